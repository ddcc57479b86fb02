"""/follow/<token>/<arXiv id>/: the Follow link on every card. GET shows one POST button and
changes nothing; POST follows (or stops); the page after it offers to undo. Signed like
unsubscribe links: lasting, surviving key rotation, no address in the URL."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from digest.composing.build import DayBuilder, card_bases
from subscriptions.feedback.follows import follow_start
from subscriptions.models import Follow
from subscriptions.readers.tokens import Purpose, make_token, read_token
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader():
    return SubscriberFactory(email="ada@example.org")


@pytest.fixture
def paper():
    return PaperFactory(title="VanillaNet: the Power of Minimalism in Deep Learning")


def follow_url(reader, paper) -> str:
    return reverse(
        "subscriptions:follow", args=[make_token(reader, Purpose.FOLLOW), paper.arxiv_id]
    )


def buttons(html: str) -> list[str]:
    return re.findall(r"<button[^>]*>([^<]*)</button>", html)


def test_get_shows_one_post_button_and_changes_nothing(client, reader, paper):
    response = client.get(follow_url(reader, paper))
    html = response.content.decode()
    assert response.status_code == 200
    assert buttons(html) == ["Follow"]
    assert html.count("<form") == 1 and 'method="post"' in html
    assert "csrfmiddlewaretoken" in html
    assert "<script" not in html.split("<main", 1)[-1].split("</main>", 1)[0]
    assert paper.title in html and "ada@example.org" not in response.request["PATH_INFO"]
    assert not Follow.objects.exists()


def test_post_follows_then_undo_and_undo_again(client, reader, paper):
    url = follow_url(reader, paper)
    response = client.post(url, {"action": "follow"}, follow=True)
    follow = Follow.objects.get(subscriber=reader, paper=paper)
    html = response.content.decode()
    assert "You follow this paper" in html and buttons(html) == ["Undo"]
    assert follow.expires_at.date() > date.today()
    # Undo: the follow is gone, and the page offers to follow again.
    html = client.post(url, {"action": "unfollow"}, follow=True).content.decode()
    assert not Follow.objects.exists()
    assert "You no longer follow this paper" in html and buttons(html) == ["Undo"]
    client.post(url, {"action": "follow"})
    assert Follow.objects.filter(subscriber=reader, paper=paper).count() == 1
    # Back on the page later: it says so, and offers to stop.
    assert buttons(client.get(url).content.decode()) == ["Stop following"]


def test_post_needs_the_csrf_token(reader, paper):
    response = Client(enforce_csrf_checks=True).post(
        follow_url(reader, paper), {"action": "follow"}
    )
    assert response.status_code == 403
    assert not Follow.objects.exists()


def test_tampered_or_foreign_tokens_change_nothing(client, reader, paper):
    token = make_token(reader, Purpose.FOLLOW)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (
        tampered,
        make_token(reader, Purpose.UNSUBSCRIBE),
        make_token(reader, Purpose.VIEW),
    ):
        url = reverse("subscriptions:follow", args=[bad, paper.arxiv_id])
        assert client.post(url, {"action": "follow"}).status_code == 400
    assert not Follow.objects.exists()


def test_links_survive_key_rotation_and_new_token_versions(settings, client, reader, paper):
    url = follow_url(reader, paper)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-after-rotation-" + "x" * 40
    reader.token_version += 1  # manage links revoked; an old email's Follow links still work
    reader.save()
    assert client.post(url, {"action": "follow"}).status_code == 302
    assert Follow.objects.filter(subscriber=reader, paper=paper).exists()


def test_a_withdrawn_paper_cannot_be_followed(client, reader, paper):
    paper.withdrawn_at = paper.published_at
    paper.save()
    url = follow_url(reader, paper)
    assert buttons(client.get(url).content.decode()) == []
    assert client.post(url, {"action": "follow"}).status_code == 409
    assert not Follow.objects.exists()


def test_every_card_links_to_the_reader_s_follow_page(client, settings, reader):
    day = date.today()
    papers = [PaperFactory(listed_on=day, upvotes=10 - n) for n in range(3)]
    builder = DayBuilder(day)
    email = builder.render(builder.select(reader), delivery_id=None)
    hrefs = re.findall(r'<a href="([^"]+)"[^>]*>Follow</a>', email.html)
    assert len(hrefs) == 3
    assert [h.rstrip("/").rsplit("/", 1)[1] for h in hrefs] == [p.arxiv_id for p in papers]
    # The reader's own lasting follow token (compared by what it reads as: a token made in the
    # next second differs in its timestamp).
    follow_base = card_bases(reader)["follow"]
    route = follow_base.removesuffix("/").rsplit("/", 1)[0] + "/"
    assert all(h.startswith(route) for h in hrefs)
    tokens = {h.removeprefix(route).split("/", 1)[0] for h in hrefs}
    assert len(tokens) == 1 and read_token(tokens.pop(), Purpose.FOLLOW)[0] == reader
    assert f"Follow: {hrefs[0]}" in email.text
    path = hrefs[1].removeprefix(settings.SITE_URL)
    assert buttons(client.get(path).content.decode()) == ["Follow"]
    client.post(path, {"action": "follow"})
    assert Follow.objects.get(subscriber=reader).paper == papers[1]


def test_manage_page_lists_followed_papers_each_removable(client, reader, paper):
    other = PaperFactory(title="Transformer in Transformer")
    follow_start(subscriber=reader, paper=paper)
    follow_start(subscriber=reader, paper=other)
    token = make_token(reader, Purpose.MANAGE)
    html = client.get(reverse("subscriptions:manage", args=[token])).content.decode()
    assert "Papers you follow" in html
    assert paper.title in html and other.title in html
    remove = reverse("subscriptions:unfollow", args=[token, paper.pk])
    assert remove in html
    response = client.post(remove, follow=True)
    assert "You no longer follow" in response.content.decode()
    assert list(Follow.objects.values_list("paper_id", flat=True)) == [other.pk]
