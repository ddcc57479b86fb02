"""The Paper list and its one-click curation, through the admin as an editor uses it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from digest.models import CurationChange, Paper
from tests.support.factories import PaperFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:digest_paper_changelist")


def curate_url(paper: Paper, action: str) -> str:
    return reverse("admin:digest_paper_curate", args=[paper.pk, action])


def test_non_staff_are_sent_to_login(client):
    user = get_user_model().objects.create_user("reader", "r@example.org", "pw")
    client.force_login(user)
    paper = PaperFactory()
    for url in (CHANGELIST, reverse("admin:digest_paper_today")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    response = client.post(curate_url(paper, "hide"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    paper.refresh_from_db()
    assert paper.hidden is False


def test_changelist_shows_papers_with_links_badges_and_buttons(admin_client):
    paper = PaperFactory(
        title="Sparse <b>attention</b>",
        upvotes=42,
        sources="arxiv,hf",
        featured=True,
        thumbnail="https://cdn.example.org/t.png",
    )
    response = admin_client.get(CHANGELIST)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="https://arxiv.org/abs/{paper.arxiv_id}"' in html
    assert "Sparse &lt;b&gt;attention&lt;/b&gt;" in html  # paper text is escaped
    assert 'class="ax-badge ax-good"' in html and ">featured<" in html
    assert 'src="https://cdn.example.org/t.png"' in html
    assert f'formaction="{curate_url(paper, "unfeature")}"' in html
    assert 'form id="ax-curation" method="post"' in html
    assert reverse("admin:digest_paper_today") in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=featured", {"f"}),
        ("state=pinned", {"p"}),
        ("state=hidden", {"h"}),
        ("state=plain", {"cl", "arx"}),
        ("category=cs.CL", {"cl"}),
        ("source=arxiv", {"arx"}),
        ("source=hf", {"f", "p", "h", "cl"}),
        ("q=quantum", {"cl"}),
        ("q=Hopper", {"arx"}),
        ("q=2501.00005", {"arx"}),
    ],
)
def test_filters_and_search(admin_client, query, expected):
    PaperFactory(arxiv_id="2501.00001", title="f", featured=True)
    PaperFactory(arxiv_id="2501.00002", title="p", pinned=True, pin_order=1)
    PaperFactory(arxiv_id="2501.00003", title="h", hidden=True)
    # "cs.C" must not match: categories are matched whole.
    PaperFactory(
        arxiv_id="2501.00004",
        title="cl",
        categories=["cs.CL", "cs.LG"],
        abstract="A quantum of solace.",
    )
    PaperFactory(arxiv_id="2501.00005", title="arx", sources="arxiv", authors=["Grace Hopper"])
    response = admin_client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert {p.title for p in response.context["cl"].result_list} == expected


def test_search_finds_non_ascii_author(admin_client):
    PaperFactory(title="umlaut", authors=["Jürgen Müller"])
    response = admin_client.get(f"{CHANGELIST}?q=Müller")
    assert [p.title for p in response.context["cl"].result_list] == ["umlaut"]


def test_order_by_upvotes(admin_client):
    PaperFactory(title="low", upvotes=1)
    PaperFactory(title="high", upvotes=50)
    index = PaperAdminColumns.index("votes")
    # The first click on the column sorts the most upvoted first.
    response = admin_client.get(f"{CHANGELIST}?o={index}")
    assert [p.title for p in response.context["cl"].result_list] == ["high", "low"]


PaperAdminColumns = [
    "action_checkbox",
    "thumb",
    "arxiv_id",
    "title_link",
    "listed_on",
    "votes",
]


@pytest.mark.parametrize(
    ("action", "field", "before", "after"),
    [
        ("feature", "featured", False, True),
        ("hide", "hidden", False, True),
        ("pin", "pinned", False, True),
    ],
)
def test_row_buttons_post_change_state_and_redirect_back(
    admin_client, action, field, before, after
):
    paper = PaperFactory(**{field: before})
    back = f"{CHANGELIST}?state=plain"
    response = admin_client.post(curate_url(paper, action), {"next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    paper.refresh_from_db()
    assert getattr(paper, field) is after
    change = CurationChange.objects.get(paper=paper)
    assert change.action == action and change.editor.username == "admin"


def test_row_buttons_reject_get(admin_client):
    paper = PaperFactory()
    response = admin_client.get(curate_url(paper, "hide"))
    assert response.status_code == 405
    paper.refresh_from_db()
    assert paper.hidden is False


def test_row_buttons_need_the_csrf_token(admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    paper = PaperFactory()
    assert client.post(curate_url(paper, "hide")).status_code == 403
    paper.refresh_from_db()
    assert paper.hidden is False


def test_unknown_action_and_foreign_redirect(admin_client):
    paper = PaperFactory()
    assert admin_client.post(curate_url(paper, "delete")).status_code == 404
    response = admin_client.post(curate_url(paper, "unhide"), {"next": "https://evil.example/"})
    assert response["Location"] == CHANGELIST


def test_pin_button_takes_an_order(admin_client):
    paper = PaperFactory()
    admin_client.post(curate_url(paper, "pin"), {f"order-{paper.pk}": "3"})
    paper.refresh_from_db()
    assert (paper.pinned, paper.pin_order) == (True, 3)
    response = admin_client.post(curate_url(paper, "pin"), {f"order-{paper.pk}": "x"}, follow=True)
    assert "whole number" in response.content.decode()


@pytest.mark.parametrize(
    ("action", "field", "initial", "expected"),
    [
        ("feature", "featured", False, True),
        ("unfeature", "featured", True, False),
        ("pin", "pinned", False, True),
        ("unpin", "pinned", True, False),
        ("hide", "hidden", False, True),
        ("unhide", "hidden", True, False),
    ],
)
def test_actions_on_a_selection(admin_client, action, field, initial, expected):
    papers = [PaperFactory(**{field: initial}) for _ in range(2)]
    untouched = PaperFactory(**{field: initial})
    response = admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [p.pk for p in papers], "index": 0},
        follow=True,
    )
    assert response.status_code == 200
    assert Paper.objects.filter(pk__in=[p.pk for p in papers], **{field: expected}).count() == 2
    assert getattr(Paper.objects.get(pk=untouched.pk), field) is initial
    assert CurationChange.objects.filter(action=action).count() == 2


def test_pin_action_uses_the_order_beside_the_menu(admin_client):
    first = PaperFactory(upvotes=9)
    second = PaperFactory(upvotes=1)
    admin_client.post(
        CHANGELIST,
        {"action": "pin", "_selected_action": [first.pk, second.pk], "pin_order": "5"},
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.pin_order, second.pin_order) == (5, 6)


def test_list_editable_note_goes_through_the_service(admin_client):
    paper = PaperFactory(upvotes=3)
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(paper.pk),
        "form-0-pin_order": "0",
        "form-0-editor_note": "Read the appendix.",
        "_save": "Save",
    }
    response = admin_client.post(CHANGELIST, data)
    assert response.status_code == 302
    paper.refresh_from_db()
    assert paper.editor_note == "Read the appendix."
    assert paper.upvotes == 3
    assert CurationChange.objects.get(paper=paper).action == "note"


# The change form's (empty) events inline.
NO_EVENTS = {"events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"}


def test_change_page_edits_curation_and_shows_the_log(admin_client):
    paper = PaperFactory(upvotes=7)
    url = reverse("admin:digest_paper_change", args=[paper.pk])
    response = admin_client.post(
        url,
        {"featured": "on", "pinned": "", "pin_order": "0", "editor_note": "Landmark.", **NO_EVENTS},
    )
    assert response.status_code == 302
    # A fetch raised the upvotes meanwhile: saving the form must not put the old count back.
    Paper.objects.filter(pk=paper.pk).update(upvotes=99)
    paper.refresh_from_db()
    assert paper.featured and paper.editor_note == "Landmark." and paper.upvotes == 99
    html = admin_client.get(url).content.decode()
    assert "featured: no → yes" in html
    assert "note: &#x27;&#x27; → &#x27;Landmark.&#x27;" in html
    assert ">admin<" in html


def test_no_add_or_delete_of_papers(admin_client):
    assert admin_client.get(reverse("admin:digest_paper_add")).status_code == 403
    paper = PaperFactory()
    delete = reverse("admin:digest_paper_delete", args=[paper.pk])
    assert admin_client.get(delete).status_code == 403


def test_change_page_shows_hugging_faces_ai_summary(admin_client):
    paper = PaperFactory(ai_summary="A one-sentence summary from Hugging Face.")
    page = admin_client.get(reverse("admin:digest_paper_change", args=[paper.pk]))
    assert "A one-sentence summary from Hugging Face." in page.content.decode()
    assert "<label>AI summary:</label>" in page.content.decode()  # not "Ai summary"


def test_a_curation_message_shortens_a_long_title_at_a_word(admin_client):
    paper = PaperFactory(
        title="Feature-Guided Black-Box Safety Testing of Deep Neural Networks and More"
    )
    response = admin_client.post(curate_url(paper, "feature"), follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert said == [
        f"Featured: {paper.arxiv_id} Feature-Guided Black-Box Safety Testing of Deep Neural…"
    ]


def test_paper_page_shows_its_events_and_an_editor_hides_one(admin_client):
    from datetime import date

    from django.utils import timezone

    from digest.models import PaperEvent

    paper = PaperFactory(pin_order=0)
    seen = {"seen_at": timezone.now(), "seen_on": date(2026, 11, 24)}
    wrong = PaperEvent.objects.create(
        paper=paper, kind="code", after="https://github.com/wrong/repo",
        detail="https://github.com/wrong/repo (\u2605 3)", **seen,
    )  # fmt: skip
    right = PaperEvent.objects.create(paper=paper, kind="version", detail="v2", **seen)
    url = reverse("admin:digest_paper_change", args=[paper.pk])
    page = admin_client.get(url).content.decode()
    assert "https://github.com/wrong/repo (\u2605 3)" in page
    assert "Code released" in page and "New version on arXiv" in page
    events = [right, wrong]  # the inline's order: newest first, then by id descending
    data = {
        "featured": "", "pin_order": "0", "editor_note": "",
        "events-TOTAL_FORMS": "2", "events-INITIAL_FORMS": "2",
        "events-MIN_NUM_FORMS": "0", "events-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for n, event in enumerate(events):
        data[f"events-{n}-id"] = str(event.pk)
        data[f"events-{n}-paper"] = str(paper.pk)
        if event == wrong:
            data[f"events-{n}-hidden"] = "on"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    wrong.refresh_from_db()
    right.refresh_from_db()
    assert (wrong.hidden, right.hidden) == (True, False)
    change = CurationChange.objects.get(paper=paper)
    assert change.action == "hide event" and "wrong/repo" in change.detail
