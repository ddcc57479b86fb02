"""Emails: a Jinja2 environment (autoescape on), CSS inlined by premailer without network.

Work many recipients share is done once: a stylesheet is read once, and fragments inlined once
per process are cached by their content (see `inline_fragment`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from django.conf import settings
from premailer import Premailer

if TYPE_CHECKING:
    from digest.models import Paper

EMAIL_TEMPLATES = Path(settings.BASE_DIR) / "templates" / "email"
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    # A bare jinja2.Environment has autoescape off; paper text is untrusted, so it is on for
    # every .html template. Text parts and subjects stay literal (they are not HTML).
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(EMAIL_TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["site_name"] = settings.SITE_NAME
    env.globals["site_url"] = settings.SITE_URL
    return env


_CSS_COMMENT = re.compile(r"/\*.*?\*/\s*", re.DOTALL)


@lru_cache(maxsize=8)
def stylesheet(name: str = "email.css") -> str:
    """The email stylesheet without its comments: they are notes for us, and premailer keeps
    the sheet in every email's <style> block for the clients that read media queries."""
    return _CSS_COMMENT.sub("", (EMAIL_TEMPLATES / name).read_text(encoding="utf-8"))


class _Premailer(Premailer):
    """Premailer that turns a stylesheet into rules once per process, not once per document:
    its own cache keeps the parsed sheet but re-serialises every property on each call, which
    was most of the cost of inlining a small fragment."""

    _rules: dict[tuple[str, int, bool], tuple[list[object], list[object]]] = {}

    def _parse_style_rules(self, css_body: str, ruleset_index: int) -> tuple[list, list]:
        key = (css_body, ruleset_index, self.strip_important)
        if key not in self._rules:
            self._rules[key] = super()._parse_style_rules(css_body, ruleset_index)
        return self._rules[key]


def inline_css(html: str, *, css: str | None = None) -> str:
    """Inline the stylesheet into `html`. Media queries stay in a <style> block (they can't
    be inlined); no network: premailer would otherwise fetch linked CSS with no timeout."""
    return _Premailer(
        html,
        css_text=css if css is not None else stylesheet(),
        allow_network=False,
        remove_classes=False,
        keep_style_tags=True,
        strip_important=False,
        disable_validation=True,
        cssutils_logging_level="CRITICAL",
    ).transform(pretty_print=False)


@lru_cache(maxsize=20000)
def inline_fragment(fragment: str) -> str:
    """Inline the stylesheet into a fragment of markup, cached by content."""
    return inline_fragments([fragment])[0]


_SPLIT = "<tr><td>XPDSPLITX</td></tr>"
_SPLIT_OUT = re.compile(r"<tr>\s*<td>XPDSPLITX</td>\s*</tr>")


def inline_fragments(fragments: list[str]) -> list[str]:
    """Inline many fragments (table rows or inline markup) in one premailer pass."""
    if not fragments:
        return []
    document = inline_css(f"<html><head></head><body>{_SPLIT.join(fragments)}</body></html>")
    match = _BODY.search(document)
    parts = _SPLIT_OUT.split(match.group(1) if match else "")
    if len(parts) != len(fragments):
        # The parser reshaped the markup around a separator: fall back to one pass each.
        return [inline_fragments([f])[0] if len(fragments) > 1 else f for f in fragments]
    return parts


def fold_header(value: str, *, limit: int = 200) -> str:
    """One line, no control characters: paper text in a subject never starts a second header."""
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def author_line(paper: Paper) -> str:
    """Up to three names, else the first two and how many others: as every email writes them."""
    names = [a for a in paper.authors if a]
    count = paper.author_count or len(names)
    if not names:
        return f"{count} author{'s' if count != 1 else ''}" if count else ""
    if len(names) <= 3:
        return ", ".join(names)
    return f"{names[0]}, {names[1]} and {count - 2} others"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(prefix: str, context: dict[str, object]) -> RenderedEmail:
    """Render `<prefix>.subject.txt`, `.txt` and `.html` with the CSS inlined (for one-off mail:
    confirmations, manage links). The daily digest assembles pre-inlined parts instead."""
    env = environment()
    subject = fold_header(env.get_template(f"{prefix}.subject.txt").render(context))
    context = {**context, "subject": subject}
    text = env.get_template(f"{prefix}.txt").render(context)
    html = env.get_template(f"{prefix}.html").render(context)
    return RenderedEmail(subject=subject, text=text, html=inline_css(html))
