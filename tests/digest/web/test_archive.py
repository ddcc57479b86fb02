"""The web archive: a day's public trending digest and a sent digest's "view in browser"."""

from __future__ import annotations

import email
import email.policy
import html
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from digest.models import Delivery, Paper
from subscriptions.readers.tokens import Purpose, make_token
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def test_public_archive_of_a_day(client, snapshot_day):
    response = client.get(f"/digests/{snapshot_day.isoformat()}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Kolmogorov-Arnold Transformer" in body
    assert "https://arxiv.org/abs/2409.10594" in body
    # The trending order: the most upvoted paper first.
    assert body.index("Kolmogorov-Arnold Transformer") < body.index("Transformer in Transformer")
    # It ranks the day under today's curation, so it does not claim to be what was sent.
    assert "as it went out" not in body and "Each digest opens with the first few" in body


def test_archive_of_a_day_without_papers_or_a_bad_date_is_404(client, snapshot_day):
    assert client.get("/digests/2001-01-01/").status_code == 404
    assert client.get("/digests/not-a-date/").status_code == 404


def test_hidden_papers_stay_out_of_the_archive(client):
    shown = PaperFactory(title="A shown paper", upvotes=3)
    PaperFactory(title="An editor hid this", upvotes=99, hidden=True)
    body = client.get(f"/digests/{shown.listed_on.isoformat()}/").content.decode()
    assert "A shown paper" in body and "An editor hid this" not in body


def test_view_in_browser_shows_the_emailed_digest_then_the_rest_of_the_day(
    client, settings, file_outbox, snapshot_day, monkeypatch
):
    # The page signs its links anew; in the same second they are the email's, byte for byte.
    from django.core import signing

    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: "1xWX6p")
    SubscriberFactory(email="reader@example.org", topics=["diffusion"])
    call_command("send_digests", day=snapshot_day.isoformat())
    (path,) = file_outbox.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    emailed = message.get_body(preferencelist=("html",)).get_content()
    view_url = re.search(r'href="(https://digest\.example\.org/digests/view/[^"]+)"', emailed)[1]

    response = client.get(view_url.removeprefix("https://digest.example.org"))
    assert response.status_code == 200
    page = response.content.decode()
    titles = re.findall(r'class="card-title"[^>]*>([^<]+)<', emailed)
    on_page = re.findall(r'class="card-title"[^>]*>([^<]+)<', page)
    assert titles and on_page[: len(titles)] == titles
    assert response["X-Robots-Tag"] == "noindex"

    # Below the email, the rest of the day's papers, each once, with the same vote links.
    rest = on_page[len(titles) :]
    day_titles = set(Paper.objects.filter(listed_on=snapshot_day).values_list("title", flat=True))
    assert len(rest) == len(day_titles) - len(titles) and len(set(on_page)) == len(on_page)
    assert {html.unescape(t) for t in on_page} == day_titles
    assert page.index("More papers of the day") > page.rindex(titles[-1])
    vote_links = re.findall(r'href="[^"]*/feedback/([^/]+)/([^"]+)/\?v=more"', page)
    assert len(vote_links) == len(on_page)
    assert {token for token, _ in vote_links} == set(
        re.findall(r'href="[^"]*/feedback/([^/]+)/[^"]+/\?v=more"', emailed)
    )

    # With nothing more to show, the page is the email, byte for byte.
    settings.DIGEST_VIEW_MORE_COUNT = 0
    assert client.get(view_url.removeprefix("https://digest.example.org")).content.decode() == (
        emailed
    )


def test_view_token_is_checked(client, snapshot_day):
    subscriber = SubscriberFactory()
    other = SubscriberFactory()
    delivery = Delivery.objects.create(
        subscriber=subscriber, digest_date=snapshot_day, status="sent", papers=[]
    )
    # Another reader's token, a tampered one, or an unsubscribe token: 404, never a 500.
    for token in (
        make_token(other, Purpose.VIEW, extra=delivery.pk),
        make_token(subscriber, Purpose.VIEW, extra=delivery.pk) + "x",
        make_token(subscriber, Purpose.UNSUBSCRIBE),
    ):
        assert client.get(f"/digests/view/{token}/").status_code == 404


def test_the_manage_page_links_each_recent_digest_to_its_web_version(
    client, file_outbox, snapshot_day
):
    reader = SubscriberFactory(email="reader@example.org", topics=["diffusion"])
    call_command("send_digests", day=snapshot_day.isoformat())
    (path,) = file_outbox.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    emailed = message.get_body(preferencelist=("html",)).get_content()

    manage = reverse("subscriptions:manage", args=[make_token(reader, Purpose.MANAGE)])
    page = client.get(manage).content.decode()
    link = re.search(r'<ul class="deliveries">.*?<a href="([^"]+)">([^<]+)</a>', page, re.S)
    assert link is not None and html.unescape(link[2]) == str(message["Subject"])
    web = client.get(link[1]).content.decode()
    titles = re.findall(r'class="card-title"[^>]*>([^<]+)<', emailed)
    assert titles and re.findall(r'class="card-title"[^>]*>([^<]+)<', web)[: len(titles)] == titles


def test_a_weekly_readers_web_version_offers_more_papers_of_the_week(
    client, file_outbox, snapshot_day
):
    reader = SubscriberFactory(
        email="weekly@example.org", cadence="weekly", weekday=snapshot_day.weekday()
    )
    call_command("send_digests", day=snapshot_day.isoformat())
    delivery = Delivery.objects.get(subscriber=reader)
    page = client.get(
        reverse("digest:view", args=[make_token(reader, Purpose.VIEW, extra=delivery.pk)])
    ).content.decode()
    assert "Trending this week" in page and "More papers of the week" in page
    assert "of the day" not in page
