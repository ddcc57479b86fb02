"""The bundled listing: the page capture's quirks, and the committed JSON built from it."""

from __future__ import annotations

import json
from datetime import date

import pytest

from digest.sources.capture import (
    CaptureError,
    build_snapshot_items,
    parse_capture,
    parse_date_line,
)
from digest.sources.snapshot import SEEDS_DIR, SNAPSHOT_PATH, load_snapshot


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Sep 16, 2024 5", (date(2024, 9, 16), 5)),  # upvotes glued after the date
        ("Dec 12, 2022", (date(2022, 12, 12), 0)),
        ("Oct 15", (date(2025, 10, 15), 0)),  # no year: the page's year
        ("May 26 2", (date(2025, 5, 26), 2)),  # no year and upvotes
        ("Feb 8, 2024 1", (date(2024, 2, 8), 1)),
        ("3 authors", None),
        ("Sept 16, 2024", None),
        ("Transformer in Transformer", None),
    ],
)
def test_date_lines(line, expected):
    assert parse_date_line(line, year=2025) == expected


@pytest.fixture(scope="module")
def page_text():
    return (SEEDS_DIR / "daily-papers-page.txt").read_text(encoding="utf-8")


def test_capture_has_every_paper_with_its_quirks(page_text):
    page_date, papers = parse_capture(page_text, year=2025)
    assert page_date == date(2025, 12, 2)
    assert len(papers) == 58
    by_title = {p.title: p for p in papers}

    kat = by_title["Kolmogorov-Arnold Transformer"]
    assert (kat.author_count, kat.published_on, kat.upvotes) == (2, date(2024, 9, 16), 5)
    assert kat.abstract.startswith("Transformers stand as the cornerstone")

    # The one paper the page shows with no author line and no date line.
    bcos = next(p for p in papers if p.title.startswith("B-cosification"))
    assert (bcos.author_count, bcos.published_on, bcos.upvotes) == (None, None, 0)
    # ...and the paper after it still gets its own lines.
    following = papers[papers.index(bcos) + 1]
    assert following.author_count is not None and following.published_on is not None

    noise = by_title[
        "Noise-Adaptive Layerwise Learning Rates: Accelerating Geometry-Aware Optimization "
        "for Deep Neural Network Training"
    ]
    assert noise.published_on == date(2025, 10, 15)  # "Oct 15": this year
    assert sum(p.upvotes for p in papers) == 5 + 1 + 1 + 2 + 1


def test_capture_without_header_or_abstract_is_refused():
    with pytest.raises(CaptureError, match="not a papers page"):
        parse_capture("Some title\n\nSome abstract\n", year=2025)
    broken = (
        "byAK and the research community\n\nDec 2\n\nA lonely title\n\n  • 2 authors\n·\nOct 1\n"
    )
    with pytest.raises(CaptureError, match="without an abstract"):
        parse_capture(broken, year=2025)


def test_committed_snapshot_is_built_from_the_seeds(page_text):
    items = build_snapshot_items(page_text, (SEEDS_DIR / "arxiv-ids.tsv").read_text())
    assert json.loads(SNAPSHOT_PATH.read_text(encoding="utf-8")) == items
    assert len(items) == 58
    first = items[0]
    # The daily_papers shape: the paper object inside the item, authors as objects.
    assert first["paper"]["id"] == "2304.12400"
    assert first["paper"]["authors"] == [{"name": "", "hidden": True}] * 3
    # The id table's TransDAE row names another paper: no id is trusted for it.
    transdae = next(i for i in items if i["title"].startswith("TransDAE"))
    assert "id" not in transdae["paper"]


def test_snapshot_loads_as_the_given_day():
    listing = load_snapshot(listed_on=date(2026, 3, 2))
    assert len(listing.records) == 57
    assert [s.reason for s in listing.skipped] and len(listing.skipped) == 1
    assert {r.listed_on for r in listing.records} == {date(2026, 3, 2)}
    assert {r.source for r in listing.records} == {"snapshot"}
    kat = next(r for r in listing.records if r.arxiv_id == "2409.10594")
    assert kat.upvotes == 5 and kat.author_count == 2 and kat.authors == ()
