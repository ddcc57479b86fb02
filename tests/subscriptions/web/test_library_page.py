"""The manage page's library section (upload, paste, result, remove one, remove all) and
starter picks at signup (likes once confirmed; the live preview of the first Recommended)."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from digest.papers.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot
from subscriptions.library.starter import starter_papers
from subscriptions.models import LibraryImport, LibraryPaper, Subscriber, Vote
from subscriptions.readers.tokens import Purpose, make_token
from tests.subscriptions.conftest import signup_data
from tests.subscriptions.library.test_importing import atom
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent.parent / "library" / "data"
DAY = dt.date(2026, 11, 24)


@pytest.fixture(autouse=True)
def arxiv(settings, httpserver):
    """A local stand-in of arXiv's API that knows no paper (entries keep what the file says)."""
    settings.ARXIV_API_URL = httpserver.url_for("/api/query")
    settings.ARXIV_REQUEST_INTERVAL = 0
    httpserver.expect_request("/api/query").respond_with_data(
        atom([]), content_type="application/atom+xml"
    )


@pytest.fixture
def reader():
    return SubscriberFactory(email="lib@example.org", status="active")


@pytest.fixture
def listing():
    papers_upsert(records=load_snapshot(listed_on=DAY).records, listed_on=DAY)
    return DAY


def manage_url(subscriber):
    return reverse("subscriptions:manage", args=[make_token(subscriber, Purpose.MANAGE)])


def library_url(subscriber):
    return reverse("subscriptions:library", args=[make_token(subscriber, Purpose.MANAGE)])


def upload(client, subscriber, capture, **data):
    """Post, let the queued import run (as a worker would, after the commit), then open the
    page the answer redirects to."""
    with capture(execute=True):
        response = client.post(library_url(subscriber), {"action": "import", **data})
    assert response.status_code == 302 and response["Location"].endswith("#library")
    return client.get(response["Location"])


def test_an_uploaded_file_is_imported_and_its_result_shown(
    client, reader, django_capture_on_commit_callbacks
):
    file = SimpleUploadedFile("broken.bib", (DATA / "broken.bib").read_bytes())
    response = upload(client, reader, django_capture_on_commit_callbacks, library_file=file)
    html = response.content.decode()
    assert (
        "2 papers imported, 2 skipped (line 8: a broken entry (unclosed brace?); "
        "line 13: no title and no arXiv id)." in html
    )
    assert "<strong>2</strong> papers in your library" in html
    assert "Denoising Diffusion Probabilistic Models" in html
    assert LibraryPaper.objects.filter(subscriber=reader).count() == 2


def test_a_pasted_list_is_imported(client, reader, django_capture_on_commit_callbacks):
    response = upload(
        client, reader, django_capture_on_commit_callbacks, library_text="2409.10594\n1706.03762"
    )
    assert "2 papers imported." in response.content.decode()
    assert set(LibraryPaper.objects.values_list("arxiv_id", flat=True)) == {
        "2409.10594",
        "1706.03762",
    }


def test_a_refused_file_says_why_and_stores_nothing(
    client, reader, django_capture_on_commit_callbacks
):
    file = SimpleUploadedFile("paper.pdf", b"%PDF-1.7\x00\x00\x01")
    response = upload(client, reader, django_capture_on_commit_callbacks, library_file=file)
    assert "This is not a text file" in response.content.decode()
    big = SimpleUploadedFile("big.bib", b"@misc{a, title={x}}\n" + b"%" * (6 * 1024 * 1024))
    response = upload(client, reader, django_capture_on_commit_callbacks, library_file=big)
    assert "The file is 6.0 MB; an import takes at most 5 MB" in response.content.decode()
    assert not LibraryImport.objects.exists() and not LibraryPaper.objects.exists()


def test_a_running_import_is_shown_as_running(client, reader):
    LibraryImport.objects.create(
        subscriber=reader,
        file_name="my.bib",
        format="bibtex",
        progress="looking up abstracts on arXiv: 100 of 400",
    )
    html = client.get(manage_url(reader)).content.decode()
    assert "Importing my.bib: looking up abstracts on arXiv: 100 of 400. " in html


def test_remove_one_and_remove_all_with_confirmation(
    client, reader, django_capture_on_commit_callbacks
):
    file = SimpleUploadedFile("zotero.bib", (DATA / "zotero.bib").read_bytes())
    upload(client, reader, django_capture_on_commit_callbacks, library_file=file)
    other = SubscriberFactory()
    theirs = LibraryPaper.objects.create(subscriber=other, title="Not yours")
    resnet = LibraryPaper.objects.get(subscriber=reader, doi="10.1109/cvpr.2016.90")
    for paper_id in (theirs.pk, "x"):  # another reader's paper, or no id: nothing happens
        client.post(library_url(reader), {"action": "remove", "paper": paper_id})
    response = client.post(
        library_url(reader), {"action": "remove", "paper": resnet.pk}, follow=True
    )
    assert "Removed “Deep Residual Learning for Image Recognition” from your library." in (
        response.content.decode()
    )
    assert LibraryPaper.objects.filter(subscriber=reader).count() == 2
    response = client.post(library_url(reader), {"action": "clear"}, follow=True)
    assert "Tick the box to confirm" in response.content.decode()
    assert LibraryPaper.objects.filter(subscriber=reader).count() == 2
    response = client.post(library_url(reader), {"action": "clear", "confirm": "yes"}, follow=True)
    assert "Removed all your library papers (2)." in response.content.decode()
    assert not LibraryPaper.objects.filter(subscriber=reader).exists()
    assert LibraryPaper.objects.filter(subscriber=other).exists()


def test_the_erase_page_erases_the_library(client, reader, django_capture_on_commit_callbacks):
    file = SimpleUploadedFile("zotero.bib", (DATA / "zotero.bib").read_bytes())
    upload(client, reader, django_capture_on_commit_callbacks, library_file=file)
    token = make_token(reader, Purpose.MANAGE)
    client.post(reverse("subscriptions:erase", args=[token]), {"confirm": "yes"})
    assert not LibraryPaper.objects.exists() and not LibraryImport.objects.exists()


def test_starter_picks_become_likes_once_confirmed_and_bring_the_section(
    client, listing, django_capture_on_commit_callbacks
):
    offered = starter_papers()
    assert [p.upvotes for p in offered] == sorted((p.upvotes for p in offered), reverse=True)
    page = client.get(reverse("subscriptions:subscribe")).content.decode()
    assert "Start from papers you like" in page and offered[0].title in page
    ticked = [offered[0].arxiv_id, offered[1].arxiv_id, "2401.99999"]  # the last one not offered
    data = {**signup_data("new@example.org"), "starter": ticked}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("subscriptions:subscribe"), data).status_code == 302
    reader = Subscriber.objects.get(email="new@example.org")
    assert reader.status == "pending"
    assert sorted(
        Vote.objects.filter(subscriber=reader).values_list("paper__arxiv_id", "value")
    ) == sorted((i, "like") for i in ticked[:2])
    confirm = reverse("subscriptions:confirm", args=[make_token(reader, Purpose.CONFIRM)])
    client.post(confirm)
    reader.refresh_from_db()
    assert reader.status == "active"
    out = StringIO()
    call_command(
        "preview_digest", reader.email, "--date", DAY.isoformat(), "--format", "json", stdout=out
    )
    recommended = json.loads(out.getvalue())["sections"]["recommended"]
    assert recommended and {e["reason"]["similar_to"]["source"] for e in recommended} == {"vote"}


def test_a_known_readers_address_gets_no_likes_from_the_form(
    client, listing, django_capture_on_commit_callbacks
):
    reader = SubscriberFactory(email="known@example.org", status="active")
    data = {**signup_data("known@example.org"), "starter": [starter_papers()[0].arxiv_id]}
    data["library_text"] = "2409.10594"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("subscriptions:subscribe"), data).status_code == 302
    assert not Vote.objects.filter(subscriber=reader).exists()
    assert not LibraryPaper.objects.exists()


def test_a_library_at_signup_is_imported_for_the_new_reader(
    client, listing, django_capture_on_commit_callbacks
):
    data = {
        **signup_data("lib2@example.org"),
        "library_file": SimpleUploadedFile("mendeley.bib", (DATA / "mendeley.bib").read_bytes()),
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("subscriptions:subscribe"), data).status_code == 302
    reader = Subscriber.objects.get(email="lib2@example.org")
    assert reader.library_imports.get().status == "done"
    assert reader.library.count() == 2
    # A file the import refuses is explained on the form, and nothing is stored.
    data = {**signup_data("lib3@example.org"), "library_text": "not an id"}
    response = client.post(reverse("subscriptions:subscribe"), data)
    assert response.status_code == 200
    assert "Nothing in the file is a library entry" in response.content.decode()
    assert not Subscriber.objects.filter(email="lib3@example.org").exists()


def test_the_starter_preview_shows_the_first_recommended_section(client, listing):
    liked = "2306.01762"  # adversarial robustness
    response = client.get(reverse("subscriptions:starter_preview"), {"like": [liked]})
    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert html.count('class="preview-item"') >= 1
    assert "that you liked" in html
    empty = client.get(reverse("subscriptions:starter_preview")).content.decode()
    assert "Tick a paper" in empty
