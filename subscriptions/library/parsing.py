"""Reference-library files to plain entries: bytes in, `ParsedLibrary` out, no ORM.

Formats: BibTeX (as Zotero, Mendeley, JabRef and Google Scholar export it, parsed by
bibtexparser 2, which reports each block it could not parse with its line), RIS (rispy, one
`TY` ... `ER` record at a time so a broken record has a line number), CSL-JSON (an array of
items, Zotero's "Better CSL JSON" and others), and a pasted list of arXiv ids, arXiv URLs or
arXiv DOIs, one per line. A malformed entry is skipped with its line number and reason; the
good entries are kept. A file that is not text, or in which nothing looks like a library,
raises `LibraryFormatError` (nothing is stored).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import bibtexparser
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors

from digest.sources.records import normalize_arxiv_id

FORMATS = ("bibtex", "ris", "csl-json", "ids")
EXTENSIONS = {".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris", ".json": "csl-json"}

# An arXiv id inside some text: an abs/pdf URL, the arXiv DOI, or "arXiv:<id>".
_ID = r"(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[a-z]{2})?/\d{7})(?:v\d+)?"
_ARXIV_IN_TEXT = re.compile(
    rf"arxiv\.org/(?:abs|pdf)/{_ID}|10\.48550/arxiv\.{_ID}|arxiv:\s*{_ID}", re.IGNORECASE
)
# A pasted line that is one arXiv id, URL or DOI and nothing else.
_PASTED = re.compile(
    rf"^(?:arxiv:\s*{_ID}|(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/{_ID}(?:\.pdf)?/?"
    rf"|(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?10\.48550/arxiv\.{_ID}|{_ID})$",
    re.IGNORECASE,
)
_DOI = re.compile(r"\b(10\.\d{4,9}/\S+)", re.IGNORECASE)
_BRACES = re.compile(r"[{}]")
_SPACE = re.compile(r"\s+")


class LibraryFormatError(ValueError):
    """The file as a whole is not a library we can read: say why, store nothing."""


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """One paper of a library. `line` is where it starts in the file (1-based)."""

    line: int
    title: str = ""
    abstract: str = ""
    authors: tuple[str, ...] = ()
    arxiv_id: str = ""
    doi: str = ""
    year: int | None = None


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class ParsedLibrary:
    format: str
    entries: list[LibraryEntry] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)


def decode(data: bytes) -> str:
    """Text of an upload: UTF-8 (with or without a byte-order mark), else Latin-1 for old
    exports; a file with NUL bytes is binary (a PDF, a zip) and refused."""
    if b"\x00" in data[:8192]:
        raise LibraryFormatError("This is not a text file: upload a .bib, .ris or .json export.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def guess_format(text: str, *, file_name: str = "") -> str:
    """The format from the file name's extension, else from the content."""
    for extension, name in EXTENSIONS.items():
        if file_name.lower().endswith(extension):
            return name
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return "csl-json"
    if re.search(r"^TY  - ", text, re.MULTILINE):
        return "ris"
    if re.search(r"^\s*@\w+\s*[{(]", text, re.MULTILINE):
        return "bibtex"
    return "ids"


def parse_library(text: str, *, format: str | None = None, file_name: str = "") -> ParsedLibrary:
    """Parse a library; `format` is guessed when None."""
    if not text.strip():
        raise LibraryFormatError("The file is empty.")
    chosen = format or guess_format(text, file_name=file_name)
    if chosen not in FORMATS:
        raise LibraryFormatError(f"Unknown format {chosen!r}: use one of {', '.join(FORMATS)}.")
    parsed = {"bibtex": _bibtex, "ris": _ris, "csl-json": _csl_json, "ids": _ids}[chosen](text)
    if not parsed.entries and not parsed.skipped:
        raise LibraryFormatError(f"No {chosen} entries found in the file.")
    if chosen == "ids" and not parsed.entries:
        raise LibraryFormatError(
            "Nothing in the file is a library entry: paste arXiv ids, arXiv URLs or DOIs one per "
            "line, or upload a BibTeX, RIS or CSL-JSON export."
        )
    return parsed


def arxiv_id_in(*texts: str) -> str:
    """The first arXiv id found in these texts (version dropped), or ""."""
    for text in texts:
        if not text:
            continue
        bare = normalize_arxiv_id(text)
        if bare:
            return bare
        match = _ARXIV_IN_TEXT.search(text)
        if match:
            found = next(group for group in match.groups() if group)
            return normalize_arxiv_id(found) or ""
    return ""


def title_key(title: str) -> str:
    """A title for comparing: accents, case, punctuation and spacing folded."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().casefold()
    return _SPACE.sub(" ", re.sub(r"[^a-z0-9]+", " ", folded)).strip()[:255]


def _clean(text: Any) -> str:
    return _SPACE.sub(" ", _BRACES.sub("", str(text or ""))).strip()


def _doi(text: str) -> str:
    match = _DOI.search(text or "")
    return match.group(1).rstrip(".,;").lower() if match else ""


def _year(text: Any) -> int | None:
    match = re.search(r"\b(1[89]\d\d|20\d\d)\b", str(text or ""))
    return int(match.group(1)) if match else None


def _person(name: str) -> str:
    """ "Doe, John" -> "John Doe" (the features read names as written in papers)."""
    name = _clean(name)
    if name.count(",") == 1:
        last, first = (part.strip() for part in name.split(","))
        name = f"{first} {last}".strip()
    return name


def _entry(line: int, *, title: str, arxiv_id: str, **fields: Any) -> LibraryEntry | SkippedEntry:
    if not title and not arxiv_id:
        return SkippedEntry(line, "no title and no arXiv id")
    return LibraryEntry(line=line, title=title, arxiv_id=arxiv_id, **fields)


def _collect(parsed: ParsedLibrary, items: Iterable[LibraryEntry | SkippedEntry]) -> None:
    for item in items:
        (parsed.entries if isinstance(item, LibraryEntry) else parsed.skipped).append(item)  # type: ignore[arg-type]


# BibTeX -------------------------------------------------------------------------------------


# bibtexparser's failed blocks carry no message worth showing; their kind says it.
_BIBTEX_FAILED = {
    "DuplicateBlockKeyBlock": "a second entry with the same key",
    "DuplicateFieldKeyBlock": "a field given twice in one entry",
}


def _bibtex(text: str) -> ParsedLibrary:
    parsed = ParsedLibrary("bibtex")
    library = bibtexparser.parse_string(
        text, append_middleware=[LatexDecodingMiddleware(), SeparateCoAuthors()]
    )
    for failed in library.failed_blocks:
        reason = _BIBTEX_FAILED.get(type(failed).__name__, "a broken entry (unclosed brace?)")
        parsed.skipped.append(SkippedEntry((failed.start_line or 0) + 1, reason))
    _collect(parsed, (_bibtex_entry(entry) for entry in library.entries))
    parsed.skipped.sort(key=lambda skipped: skipped.line)
    return parsed


def _bibtex_entry(entry: Any) -> LibraryEntry | SkippedEntry:
    fields = {f.key.lower(): f.value for f in entry.fields}
    authors = fields.get("author") or []
    if isinstance(authors, str):
        authors = [authors]
    archive = str(fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    eprint = str(fields.get("eprint") or "") if archive in ("", "arxiv") else ""
    # Zotero: eprint + archivePrefix; Mendeley: arxivId or url; Google Scholar: journal
    # "arXiv preprint arXiv:2409.10594"; anyone: an arXiv DOI.
    arxiv_id = arxiv_id_in(
        eprint,
        str(fields.get("arxivid") or ""),
        str(fields.get("doi") or ""),
        str(fields.get("url") or ""),
        str(fields.get("journal") or ""),
        str(fields.get("note") or ""),
        str(fields.get("howpublished") or ""),
    )
    return _entry(
        entry.start_line + 1,
        title=_clean(fields.get("title")),
        abstract=_clean(fields.get("abstract")),
        authors=tuple(_person(a) for a in authors if _clean(a)),
        arxiv_id=arxiv_id,
        doi=_doi(str(fields.get("doi") or "")),
        year=_year(fields.get("year") or fields.get("date")),
    )


def _short(message: str) -> str:
    return message if len(message) <= 120 else message[:117] + "..."


# RIS ----------------------------------------------------------------------------------------


def _ris_records(text: str) -> Iterator[tuple[int, str]]:
    """Each record's first line number and its text, from a `TY  -` line to the next."""
    lines = text.splitlines()
    start: int | None = None
    for number, line in enumerate(lines, start=1):
        if line.startswith("TY  -"):
            if start is not None:
                yield start, "\n".join(lines[start - 1 : number - 1])
            start = number
        elif start is None and line.strip():
            yield number, ""  # text before the first record
            start = None
    if start is not None:
        yield start, "\n".join(lines[start - 1 :])


def _ris(text: str) -> ParsedLibrary:
    parsed = ParsedLibrary("ris")
    seen_stray = False
    for line, record in _ris_records(text):
        if not record:
            if not seen_stray:
                parsed.skipped.append(SkippedEntry(line, "not an RIS record (no TY line)"))
            seen_stray = True
            continue
        if not re.search(r"^ER  -", record, re.MULTILINE):
            parsed.skipped.append(SkippedEntry(line, "the record has no end (ER) line"))
            continue
        try:
            items = rispy.loads(record)
        except Exception as exc:  # rispy raises plain exceptions on bad tags
            parsed.skipped.append(SkippedEntry(line, _short(f"unreadable record: {exc}")))
            continue
        _collect(parsed, (_ris_entry(line, item) for item in items[:1]))
    return parsed


def _ris_entry(line: int, item: dict[str, Any]) -> LibraryEntry | SkippedEntry:
    urls = [str(u) for u in item.get("urls") or []]
    doi = str(item.get("doi") or "")
    title = item.get("title") or item.get("primary_title") or item.get("translated_title") or ""
    authors = [*(item.get("authors") or []), *(item.get("first_authors") or [])]
    notes = " ".join(str(n) for n in item.get("notes") or [])
    return _entry(
        line,
        title=_clean(title),
        abstract=_clean(item.get("abstract")),
        authors=tuple(_person(a) for a in authors if _clean(a)),
        arxiv_id=arxiv_id_in(doi, *urls, str(item.get("journal_name") or ""), notes),
        doi=_doi(doi),
        year=_year(item.get("year") or item.get("publication_year") or item.get("date")),
    )


# CSL-JSON -----------------------------------------------------------------------------------


def _csl_json(text: str) -> ParsedLibrary:
    parsed = ParsedLibrary("csl-json")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LibraryFormatError(f"Not valid JSON (line {exc.lineno}: {exc.msg}).") from exc
    items = data.get("items") if isinstance(data, dict) else data
    if isinstance(data, dict) and items is None:
        items = [data]
    if not isinstance(items, list):
        raise LibraryFormatError("A CSL-JSON file holds an array of items.")
    lines = _item_lines(text, len(items))
    for index, item in enumerate(items):
        line = lines[index]
        if not isinstance(item, dict):
            parsed.skipped.append(SkippedEntry(line, "not a CSL-JSON item (an object)"))
            continue
        parsed_item = _csl_entry(line, item)
        (parsed.entries if isinstance(parsed_item, LibraryEntry) else parsed.skipped).append(
            parsed_item  # type: ignore[arg-type]
        )
    return parsed


def _item_lines(text: str, count: int) -> list[int]:
    """The line each top-level array item starts on (line 1 for all if the layout is odd)."""
    decoder = json.JSONDecoder()
    start = text.find("[")
    found: list[int] = []
    if start >= 0:
        position = start + 1
        while len(found) < count:
            while position < len(text) and text[position] in " \t\r\n,":
                position += 1
            if position >= len(text) or text[position] == "]":
                break
            found.append(text.count("\n", 0, position) + 1)
            try:
                _, position = decoder.raw_decode(text, position)
            except json.JSONDecodeError:
                break
    return found + [1] * (count - len(found))


def _csl_entry(line: int, item: dict[str, Any]) -> LibraryEntry | SkippedEntry:
    authors = []
    for person in item.get("author") or []:
        if isinstance(person, dict):
            name = person.get("literal") or " ".join(
                str(person.get(part) or "") for part in ("given", "family")
            )
            if _clean(name):
                authors.append(_clean(name))
    issued = item.get("issued") or {}
    year = None
    if isinstance(issued, dict) and issued.get("date-parts"):
        year = _year(str(issued["date-parts"][0][0]) if issued["date-parts"][0] else "")
    doi = str(item.get("DOI") or "")
    arxiv_id = arxiv_id_in(
        str(item.get("number") or "") if "arxiv" in str(item).lower() else "",
        doi,
        str(item.get("URL") or ""),
        str(item.get("id") or "") if "arxiv" in str(item.get("id") or "").lower() else "",
        str(item.get("note") or ""),
        str(item.get("container-title") or ""),
    )
    return _entry(
        line,
        title=_clean(item.get("title")),
        abstract=_clean(item.get("abstract")),
        authors=tuple(authors),
        arxiv_id=arxiv_id,
        doi=_doi(doi),
        year=year or _year(item.get("year")),
    )


# Pasted ids ---------------------------------------------------------------------------------


def _ids(text: str) -> ParsedLibrary:
    parsed = ParsedLibrary("ids")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PASTED.match(line)
        arxiv_id = normalize_arxiv_id(next(g for g in match.groups() if g)) if match else None
        if arxiv_id:
            parsed.entries.append(LibraryEntry(line=number, arxiv_id=arxiv_id))
        else:
            shown = line if len(line) <= 60 else line[:57] + "..."
            parsed.skipped.append(
                SkippedEntry(number, f"“{shown}” is not an arXiv id, arXiv URL or arXiv DOI")
            )
    return parsed
