"""/feedback/<token>/<arxiv_id>/: a reader's vote from a card. GET shows the paper with the vote
preselected and one button; POST (with CSRF) records, replaces or undoes it."""

from __future__ import annotations

import base64
import re

import pytest
from django.test import Client
from django.urls import reverse

from subscriptions.models import Subscriber, Topic, Vote
from subscriptions.readers.retention import subscriber_erase
from subscriptions.readers.tokens import Purpose, make_token
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

CSRF_VALUE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def reader():
    return SubscriberFactory(email="voter@example.org", status="active")


@pytest.fixture
def paper():
    return PaperFactory(
        arxiv_id="2409.10594",
        title="Kolmogorov-Arnold Transformer",
        authors=["Xingyi Yang", "Xinchao Wang"],
        keywords=["Kolmogorov-Arnold Networks", "transformer"],
        ai_summary="A transformer variant with Kolmogorov-Arnold Network layers.",
    )


def vote_url(subscriber, arxiv_id="2409.10594", vote="more", purpose=Purpose.FEEDBACK):
    path = reverse("subscriptions:feedback", args=[make_token(subscriber, purpose), arxiv_id])
    return f"{path}?v={vote}" if vote else path


def csrf_client_with_token(url: str) -> tuple[Client, str, str]:
    """A client that enforces CSRF, after the GET a reader's browser makes first."""
    client = Client(enforce_csrf_checks=True)
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    match = CSRF_VALUE.search(html)
    assert match, html
    return client, match.group(1), html


def test_get_preselects_the_vote_and_changes_nothing(client, reader, paper):
    for vote, checked in (("more", "like"), ("less", "dislike")):
        response = client.get(vote_url(reader, vote=vote))
        assert response.status_code == 200
        html = response.content.decode()
        assert "Kolmogorov-Arnold Transformer" in html
        assert "TL;DR (Hugging Face\u2019s AI summary)" in html
        radio = re.search(rf'<input[^>]*value="{checked}"[^>]*>', html)
        assert radio and "checked" in radio.group(0)
        other = "dislike" if checked == "like" else "like"
        radio = re.search(rf'<input[^>]*value="{other}"[^>]*>', html)
        assert radio and "checked" not in radio.group(0)
    assert not Vote.objects.exists()


def test_the_vote_form_has_exactly_one_submit_button_and_no_script(client, reader, paper):
    html = client.get(vote_url(reader)).content.decode()
    forms = re.findall(r"<form\b.*?</form>", html, re.S)
    assert len(forms) == 1  # a scanner that submits "the" form can only submit this one
    assert len(re.findall(r"<button\b", forms[0])) == 1
    assert 'type="submit"' in forms[0]
    assert not re.search(r"<input[^>]*type=\"submit\"", forms[0])
    assert "<script" not in html.split("</main>")[0]  # nothing submits it on the reader's behalf


def test_post_records_the_vote_with_csrf(reader, paper):
    url = vote_url(reader)
    client, token, _ = csrf_client_with_token(url)
    response = client.post(url, {"action": "vote", "vote": "like", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "Saved: “More like this”" in response.content.decode()
    vote = Vote.objects.get()
    assert (vote.subscriber, vote.paper, vote.value) == (reader, paper, "like")


def test_post_without_csrf_token_is_refused_and_records_nothing(reader, paper):
    client = Client(enforce_csrf_checks=True)
    response = client.post(vote_url(reader), {"action": "vote", "vote": "like"})
    assert response.status_code == 403
    assert not Vote.objects.exists()


def test_a_second_vote_replaces_the_first_and_undo_removes_it(reader, paper):
    url = vote_url(reader)
    client, token, _ = csrf_client_with_token(url)
    client.post(url, {"vote": "like", "csrfmiddlewaretoken": token})
    first = Vote.objects.get()
    response = client.post(url, {"vote": "dislike", "csrfmiddlewaretoken": token})
    assert "Saved: “Less like this”" in response.content.decode()
    vote = Vote.objects.get()  # still one row for this reader and paper
    assert vote.pk == first.pk and vote.value == "dislike"
    assert vote.updated_at >= first.updated_at

    # The GET page now says what the reader said before.
    assert "You said “Less like this”" in client.get(url).content.decode()

    response = client.post(url, {"action": "undo", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "Vote removed" in response.content.decode()
    assert not Vote.objects.exists()


def test_an_invalid_vote_value_is_a_400_and_records_nothing(client, reader, paper):
    response = client.post(vote_url(reader), {"vote": "love"})
    assert response.status_code == 400
    assert not Vote.objects.exists()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature
        # The payload swapped for another reader's (id 999999), the signature kept.
        lambda token: "Wzk5OTk5OSwxXQ" + token[token.index(":") :],
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_token_is_a_clear_400_and_records_nothing(client, reader, paper, mangle):
    token = mangle(make_token(reader, Purpose.FEEDBACK))
    url = reverse("subscriptions:feedback", args=[token, paper.arxiv_id])
    for response in (client.get(url + "?v=more"), client.post(url, {"vote": "like"})):
        assert response.status_code == 400
        assert "This vote link doesn't work" in response.content.decode()
    assert not Vote.objects.exists()


def test_a_token_for_another_purpose_is_refused(client, reader, paper):
    response = client.post(vote_url(reader, purpose=Purpose.UNSUBSCRIBE), {"vote": "like"})
    assert response.status_code == 400
    assert not Vote.objects.exists()
    assert Subscriber.objects.get(pk=reader.pk).status == "active"


def test_the_token_carries_no_address_and_survives_rotations(client, settings, reader, paper):
    token = make_token(reader, Purpose.FEEDBACK)
    assert "voter" not in token and "example" not in token
    payload = base64.urlsafe_b64decode(token.split(":")[0] + "==").decode()
    assert payload == f"[{reader.pk},1]"
    url = reverse("subscriptions:feedback", args=[token, paper.arxiv_id])
    # A token-version bump revokes manage links, not the votes in old emails...
    Subscriber.objects.filter(pk=reader.pk).update(token_version=2)
    assert client.get(url).status_code == 200
    # ...and neither does rotating SECRET_KEY with the old key kept as a fallback.
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-after-rotation-0123456789"
    assert client.post(url, {"vote": "like"}).status_code == 200
    assert Vote.objects.get().value == "like"


def test_unknown_paper_is_a_404_page(client, reader, paper):
    for response in (
        client.get(vote_url(reader, arxiv_id="2501.99999")),
        client.post(vote_url(reader, arxiv_id="2501.99999"), {"vote": "like"}),
    ):
        assert response.status_code == 404
        assert "We don't know this paper" in response.content.decode()
    assert not Vote.objects.exists()


def test_old_style_arxiv_ids_work(client, reader):
    old = PaperFactory(arxiv_id="hep-th/9901001", title="An old-style paper")
    url = vote_url(reader, arxiv_id=old.arxiv_id)
    assert "/hep-th/9901001/" in url
    assert client.post(url, {"vote": "dislike"}).status_code == 200
    assert Vote.objects.get().paper == old


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained", "pending"])
def test_a_reader_who_left_gets_a_page_that_says_so_and_nothing_is_recorded(client, paper, status):
    gone = SubscriberFactory(email=f"{status}@example.org", status=status)
    get = client.get(vote_url(gone))
    post = client.post(vote_url(gone), {"vote": "like"})
    for response in (get, post):
        assert response.status_code == 410
        assert "no longer subscribed" in response.content.decode()
    assert not Vote.objects.exists()


def test_a_paused_reader_can_still_vote(client, paper):
    paused = SubscriberFactory(email="paused@example.org", status="paused")
    assert client.post(vote_url(paused), {"vote": "like"}).status_code == 200
    assert Vote.objects.filter(subscriber=paused).count() == 1


def test_a_liked_paper_becomes_a_topic_through_the_preferences(client, reader, paper):
    reader.topics.create(query="diffusion")
    response = client.post(vote_url(reader), {"vote": "like"})
    html = response.content.decode()
    assert "Add <code>author:&quot;Xingyi Yang&quot;</code>" in html
    assert "Add <code>&quot;Kolmogorov-Arnold Networks&quot;</code>" in html

    response = client.post(vote_url(reader), {"action": "topic", "topic": 'author:"Xingyi Yang"'})
    assert response.status_code == 200
    assert "Added <code>author:&quot;Xingyi Yang&quot;</code> to your topics" in (
        response.content.decode()
    )
    assert list(reader.topics.values_list("query", flat=True)) == [
        "diffusion",
        'author:"Xingyi Yang"',
    ]
    assert Vote.objects.get().value == "like"  # adding a topic leaves the vote alone

    # The topic the reader now has is no longer offered; the others still are.
    added = response.content.decode()
    assert "Add <code>author:&quot;Xingyi Yang&quot;</code>" not in added
    assert "<code>author:&quot;Xingyi Yang&quot;</code> is one of your topics" in added
    assert "Add <code>&quot;Kolmogorov-Arnold Networks&quot;</code>" in added

    again = client.post(vote_url(reader), {"action": "topic", "topic": 'author:"Xingyi Yang"'})
    assert "already one of your topics" in again.content.decode()
    assert reader.topics.count() == 2


def test_the_own_words_field_is_empty_so_no_suggestion_is_offered_twice(client, reader, paper):
    voted = client.post(vote_url(reader), {"vote": "like"}).content.decode()
    added = client.post(vote_url(reader), {"action": "topic", "topic": "like:2409.10594"})
    for page in (voted, added.content.decode()):
        fields = re.findall(r'<input type="text" name="topic"[^>]*>', page)
        assert len(fields) == 1 and "value=" not in fields[0], fields
    assert voted.count("like:2409.10594</code></button>") == 1
    html = voted
    # What it offers is said the way it works: like: brings papers like this one.
    assert "not only ones like this" not in html
    assert "brings those most similar to this paper" in html


def test_a_bad_topic_is_explained_and_nothing_is_added(client, reader, paper):
    response = client.post(vote_url(reader), {"action": "topic", "topic": '"unclosed phrase'})
    assert response.status_code == 400
    assert "unclosed phrase" in response.content.decode()
    assert not Topic.objects.filter(subscriber=reader).exists()


def test_erasing_a_reader_removes_their_votes(client, reader, paper):
    client.post(vote_url(reader), {"vote": "like"})
    other = SubscriberFactory(email="other@example.org")
    client.post(vote_url(other), {"vote": "dislike"})
    subscriber_erase(subscriber=reader)
    assert list(Vote.objects.values_list("subscriber__email", flat=True)) == ["other@example.org"]


def test_with_recommendations_off_the_vote_is_kept_and_the_page_says_so(client, reader, paper):
    reader.recommendations_enabled = False
    reader.save()
    html = client.post(vote_url(reader), {"vote": "like"}).content.decode()
    assert "You switched recommendations off" in html
    assert Vote.objects.get().value == "like"


def test_liking_a_paper_offers_to_follow_it_too(reader, paper):
    """The saved page of a "More like this" has a Follow button (POST to the reader's follow
    page, CSRF as everywhere); a "Less like this" has none."""
    from subscriptions.models import Follow

    url = vote_url(reader)
    client, token, _ = csrf_client_with_token(url)
    saved = client.post(url, {"action": "vote", "vote": "like", "csrfmiddlewaretoken": token})
    html = saved.content.decode()
    follow = re.search(r'<form method="post" action="([^"]+)">', html)
    assert "Follow this paper too?" in html and follow and "/follow/" in follow.group(1)
    assert not Follow.objects.exists()  # offered, not done
    token = CSRF_VALUE.findall(html)[0]
    done = client.post(
        follow.group(1), {"action": "follow", "csrfmiddlewaretoken": token}, follow=True
    )
    assert "You follow this paper" in done.content.decode()
    assert Follow.objects.get().paper == paper
    again = client.post(url, {"action": "vote", "vote": "like", "csrfmiddlewaretoken": token})
    assert "Follow this paper too?" not in again.content.decode()  # already followed

    disliked = client.post(url, {"action": "vote", "vote": "dislike", "csrfmiddlewaretoken": token})
    assert "/follow/" not in disliked.content.decode()
