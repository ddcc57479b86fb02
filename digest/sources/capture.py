"""Parse the text capture of the Hugging Face papers page into `daily_papers`-shaped items.

The capture (digest/data/seeds/daily-papers-page.txt) is what a browser's "copy all" gives:
for each paper a title line, an abstract line, then `  • N authors`, `·` and a date line. Real
quirks handled here: a paper with no author or date line at all, dates without a year (the
current year on the page), and upvotes glued after the date (`Sep 16, 2024 5` is 5 upvotes).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_DATE_LINE = re.compile(
    rf"^(?P<mon>{_MONTHS}) (?P<day>\d{{1,2}})(?:, (?P<year>\d{{4}}))?(?: (?P<up>\d+))?$"
)
_AUTHORS_LINE = re.compile(r"^•\s*(?P<n>\d+) authors?$")
_HEADER_END = "byAK and the research community"


class CaptureError(ValueError):
    """The capture does not have the page's shape (for example, a paper without an abstract)."""


@dataclass(frozen=True, slots=True)
class CapturedPaper:
    title: str
    abstract: str
    author_count: int | None
    published_on: date | None
    upvotes: int


def parse_date_line(line: str, *, year: int) -> tuple[date, int] | None:
    """`Sep 16, 2024 5` -> (2024-09-16, 5); `Oct 15` -> (year-10-15, 0); anything else -> None."""
    match = _DATE_LINE.match(line.strip())
    if not match:
        return None
    month = datetime.strptime(match["mon"], "%b").month
    day = date(int(match["year"] or year), month, int(match["day"]))
    return day, int(match["up"] or 0)


def parse_capture(text: str, *, year: int) -> tuple[date | None, list[CapturedPaper]]:
    """Return the page's date and its papers, in page order. `year` fills dates without one."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    try:
        start = lines.index(_HEADER_END) + 1
    except ValueError as exc:
        raise CaptureError(f"no {_HEADER_END!r} header line: not a papers page capture") from exc

    page_date = None
    if start < len(lines) and (parsed := parse_date_line(lines[start], year=year)):
        page_date = parsed[0]
        start += 1

    papers: list[CapturedPaper] = []
    texts: list[str] = []  # title/abstract lines waiting for their author and date lines
    author_count: int | None = None
    for line in lines[start:]:
        if match := _AUTHORS_LINE.match(line):
            author_count = int(match["n"])
        elif line == "·":
            continue
        elif (parsed := parse_date_line(line, year=year)) and texts:
            papers.extend(_close(texts, author_count, *parsed))
            texts, author_count = [], None
        else:
            texts.append(line)
    papers.extend(_close(texts, author_count, None, 0))
    return page_date, papers


def _close(
    texts: list[str], author_count: int | None, published: date | None, upvotes: int
) -> list[CapturedPaper]:
    """Turn the pending lines into papers: pairs of (title, abstract).

    Only the last pair owns the author and date lines; a paper before it had none on the page.
    """
    if len(texts) % 2:
        raise CaptureError(f"a paper without an abstract near {texts[0][:60]!r}")
    pairs = [(texts[i], texts[i + 1]) for i in range(0, len(texts), 2)]
    papers = [CapturedPaper(title, abstract, None, None, 0) for title, abstract in pairs[:-1]]
    if pairs:
        title, abstract = pairs[-1]
        papers.append(CapturedPaper(title, abstract, author_count, published, upvotes))
    return papers


def to_daily_papers_items(
    papers: list[CapturedPaper], ids_by_index: list[str], *, listed_on: date
) -> list[dict[str, object]]:
    """Shape captured papers like the `daily_papers` API: one item per paper, in page order.

    The page shows an author count but no names, so authors are `hidden` entries as the API
    sends for authors who hid their name. A paper whose id is unknown gets no `paper.id`, which
    the loader skips and counts, as it would a real item without one.
    """
    items: list[dict[str, object]] = []
    for paper, raw_id in zip(papers, ids_by_index, strict=True):
        inner: dict[str, object] = {
            "title": paper.title,
            "summary": paper.abstract,
            "upvotes": paper.upvotes,
            "authors": [{"name": "", "hidden": True} for _ in range(paper.author_count or 0)],
        }
        if raw_id and raw_id != "unknown":
            inner["id"] = raw_id
        if paper.published_on:
            inner["publishedAt"] = f"{paper.published_on.isoformat()}T00:00:00.000Z"
        items.append(
            {
                "paper": inner,
                "title": paper.title,
                "summary": paper.abstract,
                "publishedAt": f"{listed_on.isoformat()}T00:00:00.000Z",
                "numComments": 0,
            }
        )
    return items


def build_snapshot_items(page_text: str, ids_text: str, *, year: int | None = None) -> list[dict]:
    """The bundled listing: the capture's papers joined by page position with the id table.

    A row whose title differs from the page's is not trusted: that paper gets no id.
    """
    rows = list(csv.DictReader(io.StringIO(ids_text), delimiter="\t"))
    if year is None:
        # Yearless dates are in the capture's year: the newest arXiv id's year (YYMM.NNNNN).
        year = max(2000 + int(r["arxiv_id"][:2]) for r in rows if r["arxiv_id"][:4].isdigit())
    page_date, papers = parse_capture(page_text, year=year)
    if len(rows) != len(papers):
        raise CaptureError(f"the id table has {len(rows)} rows for {len(papers)} papers")
    ids = [
        row["arxiv_id"].strip() if row["title"].strip() == paper.title else "unknown"
        for row, paper in zip(rows, papers, strict=True)
    ]
    return to_daily_papers_items(papers, ids, listed_on=page_date or date(year, 1, 1))
