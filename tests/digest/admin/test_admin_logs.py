"""Deliveries and fetch runs: read-only logs, with their filters and details."""

from __future__ import annotations

import pytest
from django.urls import reverse

from digest.models import DeliveryEvent, FetchRun
from tests.support.factories import DeliveryFactory, PaperFactory

pytestmark = pytest.mark.django_db


def test_deliveries_are_view_only(admin_client):
    delivery = DeliveryFactory(status="failed", error="550 mailbox unavailable", message_id="<m@x>")
    DeliveryEvent.objects.create(
        event_id="ev-1", event_type="bounced", delivery=delivery, description="hard bounce"
    )
    changelist = reverse("admin:digest_delivery_changelist")
    html = admin_client.get(changelist).content.decode()
    assert "550 mailbox unavailable" in html and "&lt;m@x&gt;" in html
    assert 'ax-bad">failed<' in html
    assert reverse("admin:digest_delivery_add") not in html

    assert admin_client.get(reverse("admin:digest_delivery_add")).status_code == 403
    change = reverse("admin:digest_delivery_change", args=[delivery.pk])
    page = admin_client.get(change)
    assert page.status_code == 200  # viewable...
    assert "hard bounce" in page.content.decode()  # ...with its webhook events
    assert 'name="_save"' not in page.content.decode()  # ...but not savable
    response = admin_client.post(change, {"status": "sent"})
    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert (
        admin_client.get(reverse("admin:digest_delivery_delete", args=[delivery.pk])).status_code
        == 403
    )


def test_a_delivery_lists_its_papers_by_section_with_titles_not_json(admin_client):
    paper = PaperFactory(arxiv_id="2409.10594", title="Kolmogorov-Arnold <Transformer>")
    delivery = DeliveryFactory(
        status="sent",
        papers=[
            {"arxiv_id": "2409.10594", "section": "trending", "reason": {"topics": []}},
            {
                "arxiv_id": "2409.10594",
                "section": "recommended",
                "reason": {"text": "Similar to “KAN” that you liked"},
            },
            {"arxiv_id": "9999.99999", "section": "topics", "reason": {"text": "Matches: x"}},
            {
                "arxiv_id": "2409.10594",
                "section": "topics",
                "reason": {
                    "topics": ["like:2206.04246", "kan"],
                    "labels": ["like:“SwinCheX”", "kan"],
                },
            },
        ],
    )
    html = admin_client.get(reverse("admin:digest_delivery_change", args=[delivery.pk])).content
    page = html.decode()
    paper_url = reverse("admin:digest_paper_change", args=[paper.pk])
    assert (
        f'trending: <a href="{paper_url}">2409.10594</a> Kolmogorov-Arnold &lt;Transformer&gt;'
        in page
    )
    assert "Similar to “KAN” that you liked" in page
    # A paper deleted since still shows, linked to arXiv.
    assert 'topics: <a href="https://arxiv.org/abs/9999.99999">9999.99999</a>' in page
    assert "matches like:“SwinCheX”, kan" in page  # a topic pick says which topics
    assert '"section": "trending"' not in page


def test_delivery_filters(admin_client):
    DeliveryFactory(status="sent")
    DeliveryFactory(status="failed")
    url = reverse("admin:digest_delivery_changelist")
    response = admin_client.get(url + "?status__exact=failed")
    assert [d.status for d in response.context["cl"].result_list] == ["failed"]


def test_fetch_run_shows_what_came_in_and_what_was_skipped(admin_client):
    run = FetchRun.objects.create(
        source="hf",
        for_date="2026-03-10",
        status="ok",
        new=12,
        updated=3,
        unchanged=40,
        skipped=2,
        skipped_items=[
            {"position": 3, "id": "abc", "reason": "no usable arXiv id"},
            {"position": 9, "id": "<script>", "reason": "missing title"},
        ],
    )
    html = admin_client.get(reverse("admin:digest_fetchrun_change", args=[run.pk])).content.decode()
    assert "<td>3</td><td>abc</td><td>no usable arXiv id</td>" in html
    assert "&lt;script&gt;" in html
    listing = admin_client.get(reverse("admin:digest_fetchrun_changelist")).content.decode()
    assert 'ax-good">ok<' in listing
    assert admin_client.get(reverse("admin:digest_fetchrun_add")).status_code == 403


def test_expected_empty_run_is_not_shown_as_a_fault(admin_client):
    FetchRun.objects.create(
        source="arxiv", for_date="2026-03-08", status="empty", empty_expected=True
    )
    html = admin_client.get(reverse("admin:digest_fetchrun_changelist")).content.decode()
    assert "empty (expected)" in html
