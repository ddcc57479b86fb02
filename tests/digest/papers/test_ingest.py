"""Upserting listings: idempotent, merges sources, constant queries per chunk."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from digest.models import Paper
from digest.papers.ingest import papers_upsert
from digest.sources.records import PaperRecord

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)


def hf_record(n: int, **changes) -> PaperRecord:
    record = PaperRecord(
        arxiv_id=f"2511.{n:05d}",
        title=f"Paper {n}",
        abstract="An abstract.",
        authors=("Ada Lovelace",),
        upvotes=n,
        comments=1,
        keywords=("transformer",),
        source="hf",
    )
    return replace(record, **changes)


def test_second_run_of_the_same_listing_writes_nothing(django_assert_max_num_queries):
    records = [hf_record(n) for n in range(1, 301)]
    first = papers_upsert(records=records, listed_on=DAY)
    assert (first.new, first.updated, first.unchanged) == (300, 0, 0)
    stamps = dict(Paper.objects.values_list("arxiv_id", "updated_at"))

    with django_assert_max_num_queries(4):
        second = papers_upsert(records=records, listed_on=DAY)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 300)
    assert dict(Paper.objects.values_list("arxiv_id", "updated_at")) == stamps


def test_queries_are_per_chunk_not_per_paper(django_assert_max_num_queries):
    # SQLite caps a query at 999 parameters, so inserts of 25 columns go ~39 rows a query;
    # PostgreSQL inserts a whole chunk in one. Either way, far from one query per paper.
    with django_assert_max_num_queries(30):
        papers_upsert(records=[hf_record(n) for n in range(1, 901)], listed_on=DAY)
    with django_assert_max_num_queries(8):
        result = papers_upsert(
            records=[hf_record(n, upvotes=n + 1) for n in range(1, 901)], listed_on=DAY
        )
    assert result.updated == 900


def test_seen_again_updates_only_what_changed_and_keeps_its_first_day():
    papers_upsert(records=[hf_record(1)], listed_on=DAY)
    later = hf_record(1, upvotes=40, comments=3, title="A retitled paper", abstract="Changed.")
    result = papers_upsert(records=[later], listed_on=date(2026, 11, 25))
    assert result.updated == 1
    paper = Paper.objects.get()
    assert (paper.upvotes, paper.comments) == (40, 3)
    # Not a new version: the text and the listing day stay as first seen.
    assert (paper.title, paper.abstract, paper.listed_on) == ("Paper 1", "An abstract.", DAY)


def test_arxiv_and_hf_merge_into_one_row():
    papers_upsert(records=[hf_record(7)], listed_on=DAY)
    from_arxiv = PaperRecord(
        arxiv_id="2511.00007",
        title="Paper 7",
        abstract="An abstract.",
        authors=("A", "B"),
        categories=("cs.LG", "cs.AI"),
        primary_category="cs.LG",
        version=2,
        source="arxiv",
    )
    papers_upsert(records=[from_arxiv], listed_on=DAY)
    paper = Paper.objects.get()
    assert Paper.objects.count() == 1
    assert paper.sources == "arxiv,hf"
    assert paper.categories == ["cs.LG", "cs.AI"] and paper.primary_category == "cs.LG"
    assert paper.upvotes == 7  # arXiv knows no upvotes and leaves them alone
    assert paper.keywords == ["transformer"]
    assert paper.version == 2 and paper.authors == ["A", "B"]  # a new version's authors


def test_ai_summary_is_stored_kept_and_refreshed():
    papers_upsert(records=[hf_record(5, ai_summary="First summary.")], listed_on=DAY)
    assert Paper.objects.get().ai_summary == "First summary."
    # arXiv knows no AI summary: it leaves it alone.
    arxiv = PaperRecord(arxiv_id="2511.00005", title="Paper 5", source="arxiv")
    papers_upsert(records=[arxiv], listed_on=DAY)
    assert Paper.objects.get().ai_summary == "First summary."
    # Hugging Face rewrote it: the newest one wins; an item without one keeps it.
    papers_upsert(records=[hf_record(5, ai_summary="Rewritten summary.")], listed_on=DAY)
    assert Paper.objects.get().ai_summary == "Rewritten summary."
    assert papers_upsert(records=[hf_record(5)], listed_on=DAY).updated == 0
    assert Paper.objects.get().ai_summary == "Rewritten summary."


def test_duplicates_within_a_listing_are_one_paper():
    result = papers_upsert(records=[hf_record(3), hf_record(3, upvotes=9)], listed_on=DAY)
    assert result.new == 1
    assert Paper.objects.get().upvotes == 9


def test_bundled_snapshot_is_listed_on_the_day_it_is_loaded(capsys):
    from django.core.management import call_command

    call_command("fetch_papers", source="snapshot", day="2026-11-24")
    call_command("fetch_papers", source="snapshot", day="2026-11-24")
    assert "0 new, 0 updated, 57 unchanged" in capsys.readouterr().out
    # A demo on another day gets a fresh day: the snapshot stands for "today's listing".
    call_command("fetch_papers", source="snapshot", day="2026-11-25")
    assert "0 new, 57 updated" in capsys.readouterr().out
    assert set(Paper.objects.values_list("listed_on", flat=True)) == {date(2026, 11, 25)}
