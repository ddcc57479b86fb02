"""Read docker/compose.yaml and .env.example the way the tests need them.

PyYAML reads the compose file when it is installed; otherwise a small reader of the YAML subset
the file uses (block mappings and sequences, JSON-style flow lists, quoted and plain scalars,
comments). test_compose.py checks both agree whenever PyYAML is there, and the reader refuses
anything outside that subset (anchors, block scalars), so it never guesses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
SETTINGS_FILE = ROOT / "config" / "settings.py"


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    text = path.read_text()
    try:
        import yaml
    except ImportError:
        return parse_yaml_subset(text)
    return yaml.safe_load(text)


# --- .env files -----------------------------------------------------------------------------------
_ASSIGNMENT = re.compile(r"^\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_file_values(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """The variables an env file sets (uncommented `NAME=value` lines, values verbatim, as
    compose's env_file reads them)."""
    values = {}
    for line in path.read_text().splitlines():
        match = _ASSIGNMENT.match(line)
        if match and not match[1]:
            values[match[2]] = match[3]
    return values


def env_file_documented(path: Path = ENV_EXAMPLE) -> set[str]:
    """Every variable an env file names, set or shown commented out (`# NAME=default`)."""
    return {m[2] for line in path.read_text().splitlines() if (m := _ASSIGNMENT.match(line))}


# --- what settings read ---------------------------------------------------------------------------
# env("X"), env.str("X", ...), env.int(\n "X"), env.db_url("X"), os.environ.get("X"), os.getenv
_ENV_CALL = re.compile(
    r"""\b(?:env(?:\.\w+)?|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
)
_ENV_ITEM = re.compile(r"""\bos\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]""")
# A family read by prefix, e.g. `if key.startswith("ANYMAIL_")` over env.ENVIRON.
_ENV_PREFIX = re.compile(r"""startswith\(\s*["']([A-Z][A-Z0-9_]*_)["']\s*\)""")


def settings_variables(path: Path = SETTINGS_FILE) -> tuple[set[str], set[str]]:
    """(names, prefixes) of the environment variables the settings module reads."""
    source = path.read_text()
    names = set(_ENV_CALL.findall(source)) | set(_ENV_ITEM.findall(source))
    return names, set(_ENV_PREFIX.findall(source))


# --- the YAML subset ------------------------------------------------------------------------------
class UnsupportedYaml(ValueError):
    pass


def _strip_comment(line: str) -> str:
    quote, escaped = "", False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif quote == '"' and char == "\\":
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index].rstrip()
    return line.rstrip()


def _scalar(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    if text[0] in "[{":
        return json.loads(text)  # the file writes flow collections JSON-style
    if text[0] == '"':
        return json.loads(text)
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    if text[0] in "&*!|>":
        raise UnsupportedYaml(f"not in the subset: {text!r}")
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def parse_yaml_subset(text: str) -> dict[str, Any]:
    lines = []
    for raw in text.splitlines():
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise UnsupportedYaml("tab indentation")
        stripped = _strip_comment(raw)
        if stripped.strip():
            lines.append((len(stripped) - len(stripped.lstrip()), stripped.strip()))

    def block(index: int, indent: int) -> tuple[Any, int]:
        if lines[index][1].startswith("- "):
            items = []
            while index < len(lines) and lines[index][0] == indent:
                content = lines[index][1]
                if not content.startswith("- "):
                    raise UnsupportedYaml(f"mixed block at {content!r}")
                if re.match(r"^- [\w.-]+:(\s|$)", content):
                    raise UnsupportedYaml(f"mapping in a sequence: {content!r}")
                items.append(_scalar(content[2:]))
                index += 1
            return items, index
        mapping: dict[str, Any] = {}
        while index < len(lines) and lines[index][0] == indent:
            content = lines[index][1]
            key, colon, rest = content.partition(":")
            if not colon or (rest and not rest.startswith(" ")):
                raise UnsupportedYaml(f"not a `key: value` line: {content!r}")
            key = _scalar(key)
            index += 1
            if rest.strip():
                mapping[key] = _scalar(rest)
            elif index < len(lines) and lines[index][0] > indent:
                mapping[key], index = block(index, lines[index][0])
            else:
                mapping[key] = None
        return mapping, index

    parsed, end = block(0, lines[0][0])
    if end != len(lines):
        raise UnsupportedYaml(f"unexpected indentation at {lines[end][1]!r}")
    if not isinstance(parsed, dict):
        raise UnsupportedYaml("the top level is not a mapping")
    return parsed
