"""Importing a library: arXiv look-ups against a local stand-in of the API (batched, rate-
limited, failures leave entries counted by title), idempotent re-import, the task's progress
and result on the import row, the command, and what the reader's digest does with it."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.models import Paper
from digest.sources.http import RateLimiter
from subscriptions import tasks
from subscriptions.library.importing import library_import_run, library_import_start
from subscriptions.models import LibraryImport, LibraryPaper
from tests.support.factories import SubscriberFactory

DATA = Path(__file__).parent / "data"
ARXIV_PATH = "/api/query"

pytestmark = pytest.mark.django_db


def atom(entries: list[tuple[str, str, str]]) -> str:
    """An id_list answer in arXiv's Atom format."""
    items = "".join(
        f"""<entry><id>http://arxiv.org/abs/{i}v1</id><updated>2024-01-01T00:00:00Z</updated>
<published>2024-01-01T00:00:00Z</published><title>{escape(t)}</title>
<summary>{escape(a)}</summary><author><name>Ann Author</name></author>
<link href="http://arxiv.org/abs/{i}v1" rel="alternate" type="text/html"/>
<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.LG"/>
<category term="cs.LG"/></entry>"""
        for i, t, a in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<title>ArXiv Query</title><opensearch:totalResults>{len(entries)}"
        f"</opensearch:totalResults>{items}</feed>"
    )


class ArxivStandIn:
    """Answers id_list for the papers it knows; `fail` lists request numbers (from 1) that
    get a 503."""

    def __init__(self, known: dict[str, tuple[str, str]], fail: tuple[int, ...] = ()) -> None:
        self.known, self.fail = known, fail
        self.asked: list[list[str]] = []

    def __call__(self, request: Request) -> Response:
        ids = request.args["id_list"].split(",")
        self.asked.append(ids)
        if len(self.asked) in self.fail:
            return Response("busy", status=503)
        found = [(i, *self.known[i]) for i in ids if i in self.known]
        return Response(atom(found), content_type="application/atom+xml")


@pytest.fixture
def arxiv(settings, httpserver: HTTPServer):
    settings.ARXIV_API_URL = httpserver.url_for(ARXIV_PATH)
    settings.ARXIV_REQUEST_INTERVAL = 0
    settings.HTTP_BACKOFF = 0.01
    settings.HTTP_RETRIES = 0
    settings.HTTP_TIMEOUT = 2

    def serve(known: dict[str, tuple[str, str]], fail: tuple[int, ...] = ()) -> ArxivStandIn:
        stand_in = ArxivStandIn(known, fail)
        httpserver.expect_request(ARXIV_PATH).respond_with_handler(stand_in)
        return stand_in

    return serve


def run_import(reader, name: str, data: bytes | None = None, **kwargs) -> LibraryImport:
    data = (DATA / name).read_bytes() if data is None else data
    run = library_import_start(subscriber=reader, data=data, file_name=name)
    return library_import_run(library_import=run, **kwargs)


def test_a_bibtex_library_is_stored_with_abstracts_from_arxiv_and_counts_once(arxiv):
    stand_in = arxiv({"2304.02643": ("Segment Anything", "We introduce the SA project.")})
    stand_in.known["1505.04597"] = ("U-Net", "A network for biomedical image segmentation.")
    reader = SubscriberFactory()
    run = run_import(reader, "mendeley.bib")
    assert (run.status, run.imported, run.duplicates, run.skipped) == ("done", 2, 0, [])
    assert run.summary == "2 papers imported"
    unet = LibraryPaper.objects.get(subscriber=reader, arxiv_id="1505.04597")
    # The file's title is kept; the missing abstract came from arXiv. SAM had its abstract.
    assert unet.title.startswith("U-Net: Convolutional Networks")
    assert unet.abstract == "A network for biomedical image segmentation."
    assert stand_in.asked == [["1505.04597"]]
    assert not Paper.objects.exists()  # a library paper is not a listing

    again = run_import(reader, "mendeley.bib")
    assert (again.imported, again.duplicates) == (0, 2)
    assert again.summary == "0 papers imported, 2 already in your library"
    assert LibraryPaper.objects.filter(subscriber=reader).count() == 2


def test_the_same_paper_by_id_doi_or_title_is_one_library_paper(arxiv):
    arxiv({})
    reader = SubscriberFactory()
    run_import(reader, "zotero.bib")
    # The pasted list names 2409.10594 (by id) and 1706.03762 (by arXiv: prefix, v5) again.
    pasted = run_import(reader, "pasted.txt")
    assert pasted.duplicates == 2
    same_title = b"@misc{x, title={Deep residual learning for image recognition.}}"
    assert run_import(reader, "again.bib", same_title).duplicates == 1


def test_stored_papers_answer_first_and_arxiv_gets_batches_of_100(arxiv, settings):
    reader = SubscriberFactory()
    Paper.objects.create(
        arxiv_id="2401.00000", title="Stored", abstract="Known here.", listed_on="2024-01-02"
    )
    ids = [f"2401.{n:05d}" for n in range(250)]
    stand_in = arxiv({i: (f"Paper {i}", f"Abstract {i}") for i in ids})
    waits: list[float] = []
    limiter = RateLimiter(3.0, clock=lambda: 0.0, sleep=waits.append)
    run = library_import_start(subscriber=reader, data="\n".join(ids).encode())
    progress: list[str] = []
    run = library_import_run(library_import=run, limiter=limiter, progress=progress.append)
    assert [len(batch) for batch in stand_in.asked] == [100, 100, 49]
    assert "2401.00000" not in stand_in.asked[0]
    assert waits == [3.0, 3.0]  # the 3-second etiquette between requests
    assert progress[-1] == "looking up abstracts on arXiv: 249 of 249"
    assert (run.imported, run.looked_up) == (250, 250)
    assert LibraryPaper.objects.get(arxiv_id="2401.00000").abstract == "Known here."


def test_a_failed_look_up_leaves_the_entries_counted_by_title(arxiv):
    stand_in = arxiv({"2103.00020": ("CLIP", "Contrastive pre-training.")}, fail=(1,))
    reader = SubscriberFactory()
    run = run_import(reader, "scholar.bib")
    assert stand_in.asked == [["2103.00020"]]
    assert (run.status, run.imported, run.looked_up) == ("done", 2, 0)
    clip = LibraryPaper.objects.get(subscriber=reader, arxiv_id="2103.00020")
    assert clip.title.startswith("Learning transferable visual models") and clip.abstract == ""


def test_skipped_entries_are_reported_with_their_lines(arxiv):
    arxiv({})
    run = run_import(SubscriberFactory(), "broken.bib")
    assert run.summary == (
        "2 papers imported, 2 skipped (line 8: a broken entry (unclosed brace?); "
        "line 13: no title and no arXiv id)"
    )


def test_the_task_records_progress_and_result_on_the_import_row(
    arxiv, django_capture_on_commit_callbacks
):
    arxiv({"2409.10594": ("A survey", "Abstract.")})
    reader = SubscriberFactory()
    run = library_import_start(
        subscriber=reader, data=(DATA / "pasted.txt").read_bytes(), file_name="pasted.txt"
    )
    assert (run.status, run.entries, run.progress) == ("running", 8, "7 entries read")
    assert run.summary == "Importing pasted.txt: 7 entries read"
    assert run.content  # kept for the task, and only until it is done
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_library_import(run.pk)
    run.refresh_from_db()
    assert (run.status, run.imported, run.content, run.progress) == ("done", 7, "", "")
    assert run.summary.startswith("7 papers imported, 1 skipped (line 8: “not an id at all”")
    assert tasks.import_library(run.pk) == "done"  # a second run changes nothing
    assert LibraryPaper.objects.filter(subscriber=reader).count() == 7
    # Six of them got nothing from arXiv: they are kept by id, with no text yet.
    assert LibraryPaper.objects.filter(subscriber=reader, title="").count() == 6


def test_a_large_library_is_summarised_by_weighted_representatives(arxiv, settings):
    arxiv({})
    settings.LIBRARY_POSITIVES_MAX = 4
    subjects = ["protein folding structure", "speech recognition audio", "graph neural message"]
    entries = "".join(
        f"@misc{{k{n}, title={{{subjects[n % 3]} study {n}}}, "
        f"abstract={{We study {subjects[n % 3]} with method {n}.}}}}\n"
        for n in range(30)
    )
    reader = SubscriberFactory()
    run_import(reader, "many.bib", entries.encode())
    weights = list(
        LibraryPaper.objects.filter(subscriber=reader, weight__gt=0).values_list("title", "weight")
    )
    assert len(weights) == 4 and sum(w for _, w in weights) == 30
    # Every subject has a representative.
    assert {s for s in subjects for title, _ in weights if title.startswith(s)} == set(subjects)


def test_the_command_prints_what_it_imported_and_refuses_a_bad_file(arxiv, tmp_path):
    arxiv({})
    reader = SubscriberFactory(email="ada@example.org")
    out, err = StringIO(), StringIO()
    call_command(
        "import_library", "ADA@example.org", str(DATA / "zotero.ris"), stdout=out, stderr=err
    )
    assert "zotero.ris: ris, 4 entries" in out.getvalue()
    assert "zotero.ris: 2 papers imported, 2 skipped (line 17: no title" in out.getvalue()
    assert "zotero.ris:22: skipped: the record has no end (ER) line" in err.getvalue()
    binary = tmp_path / "paper.pdf"
    binary.write_bytes(b"%PDF-1.5\x00\x00")
    with pytest.raises(CommandError, match=r"not a text file.*Nothing was imported"):
        call_command("import_library", reader.email, str(binary))
    with pytest.raises(CommandError, match="No subscriber"):
        call_command("import_library", "nobody@example.org", str(DATA / "zotero.ris"))
    with pytest.raises(CommandError, match=r"No ids entries|Nothing in the file"):
        call_command("import_library", reader.email, str(DATA / "zotero.json"), "--format", "ids")
    assert LibraryImport.objects.filter(subscriber=reader).count() == 1
    assert LibraryPaper.objects.filter(subscriber=reader).count() == 2


def test_erasing_the_reader_erases_the_library(arxiv):
    arxiv({})
    reader = SubscriberFactory()
    run_import(reader, "zotero.bib")
    reader.delete()
    assert not LibraryPaper.objects.exists() and not LibraryImport.objects.exists()


def preview(email: str, day) -> dict:
    out = StringIO()
    call_command("preview_digest", email, "--date", day.isoformat(), "--format", "json", stdout=out)
    return json.loads(out.getvalue())
