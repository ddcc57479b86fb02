"""Recommended for you: the day's papers a reader's votes and `like:` topics point to, in the
email (HTML and text), in `preview_digest --format json`, in "view in browser", never twice."""

from __future__ import annotations

import html
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from digest.composing.build import DayBuilder, subscriber_links
from digest.delivery.batch import deliveries_plan, deliveries_send
from digest.models import Delivery, Paper
from digest.recommend import feature_space_fit, paper_text
from subscriptions.library.importing import library_import_run, library_import_start
from subscriptions.models import Vote
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

# Three papers of the bundled listing on adversarial robustness; one on something else.
LIKED = ["2306.01762", "1710.07859"]
ROBUSTNESS = {"2306.01762", "2506.21046", "1710.07859", "2503.20454"}
DISLIKED = "2212.13899"


def vote(subscriber, arxiv_id: str, value: str = "like") -> None:
    Vote.objects.create(
        subscriber=subscriber, paper=Paper.objects.get(arxiv_id=arxiv_id), value=value
    )


def preview(subscriber, day) -> dict:
    out = StringIO()
    call_command(
        "preview_digest",
        subscriber.email,
        "--date",
        day.isoformat(),
        "--format",
        "json",
        stdout=out,
    )
    return json.loads(out.getvalue())


def cosine_to(liked: list[str], arxiv_id: str) -> dict[str, float]:
    """Brute-force cosine of `arxiv_id` to each liked paper, over the day's tf-idf vectors."""
    papers = list(Paper.objects.all())
    texts = [paper_text(p) for p in papers]
    vectors = feature_space_fit(window=texts).transform(texts).toarray()
    row = {p.arxiv_id: n for n, p in enumerate(papers)}
    return {i: float(vectors[row[i]] @ vectors[row[arxiv_id]]) for i in liked}


def test_votes_bring_the_section_with_its_reasons(snapshot_day, settings):
    reader = SubscriberFactory(max_papers=10)
    for arxiv_id in LIKED:
        vote(reader, arxiv_id)
    vote(reader, DISLIKED, "dislike")
    found = preview(reader, snapshot_day)
    recommended = found["sections"]["recommended"]
    assert 1 <= len(recommended) <= settings.DIGEST_RECOMMENDED_COUNT == 5
    shown = {e["arxiv_id"] for s in ("trending", "topics") for e in found["sections"][s]}
    voted = {*LIKED, DISLIKED}
    for entry in recommended:
        assert entry["arxiv_id"] not in shown | voted  # never twice, never a voted paper
        similar = entry["reason"]["similar_to"]
        # The reason is the liked paper nearest to the recommended one, computed.
        cosines = cosine_to(LIKED, entry["arxiv_id"])
        assert similar["arxiv_id"] == max(cosines, key=cosines.__getitem__)
        title = Paper.objects.get(arxiv_id=similar["arxiv_id"]).title
        assert entry["reason"]["text"] == f"Similar to “{title}” that you liked"
        assert similar["source"] == "vote"
    # The other robustness papers not already in the email come first.
    rest = ROBUSTNESS - shown - voted
    assert {e["arxiv_id"] for e in recommended[: len(rest)]} == rest


def test_a_library_and_no_votes_bring_the_section_the_next_day(snapshot_day, settings):
    """A new reader imports a library (two robustness papers, by arXiv id: their abstracts
    come from the stored papers) and votes on nothing: the day's digest recommends the other
    robustness papers "from your library", and never the library's own papers."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    reader = SubscriberFactory(max_papers=10, topics=["adversarial"])
    run = library_import_start(subscriber=reader, data="\n".join(LIKED).encode())
    assert library_import_run(library_import=run).imported == 2
    found = preview(reader, snapshot_day)
    recommended = found["sections"]["recommended"]
    assert recommended
    everything = {e["arxiv_id"] for section in found["sections"].values() for e in section}
    assert not everything & set(LIKED)  # the reader has them: neither listed nor recommended
    assert {e["reason"]["similar_to"]["source"] for e in recommended} == {"library"}
    titles = {Paper.objects.get(arxiv_id=i).title for i in LIKED}
    for entry in recommended:
        assert entry["reason"]["similar_to"]["title"] in titles
        assert entry["reason"]["text"].endswith("” from your library")
    assert ROBUSTNESS - set(LIKED) <= {e["arxiv_id"] for e in recommended} | everything
    deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    assert Delivery.objects.get(subscriber=reader).status == "sent"
    email = mail.outbox[-1]
    html_part = email.alternatives[0][0]
    assert "Recommended for you" in html_part and "</em> from your library" in html_part
    assert "” from your library" in email.body


def test_the_email_shows_the_section_after_the_topics(snapshot_day):
    reader = SubscriberFactory(max_papers=10, topics=["transformer"])
    for arxiv_id in LIKED:
        vote(reader, arxiv_id)
    builder = DayBuilder(snapshot_day)
    content = builder.select(reader)
    email = builder.render(content)
    html, text = email.html, email.text
    assert content.recommended
    first = content.recommended[0]
    assert html.index("For your topics") < html.index("Recommended for you")
    assert html.index("Recommended for you") < html.index(first.paper.title.split(":")[0])
    liked_title = Paper.objects.get(arxiv_id=first.reason.similar_to).title
    assert f"Similar to <em>{liked_title}</em> that you liked" in html
    assert "Recommended for you" in text
    assert f"Why: similar to “{liked_title}” that you liked" in text
    assert "recommended for you" in html  # the intro counts the section


@pytest.mark.parametrize("why", ["no votes", "switched off"])
def test_no_section_without_votes_or_when_switched_off(snapshot_day, why):
    reader = SubscriberFactory(max_papers=10, recommendations_enabled=why != "switched off")
    if why == "switched off":
        for arxiv_id in LIKED:
            vote(reader, arxiv_id)
    found = preview(reader, snapshot_day)
    assert found["sections"]["recommended"] == []
    html = DayBuilder(snapshot_day).render(DayBuilder(snapshot_day).select(reader)).html
    assert "Recommended for you" not in html


def test_a_like_topic_alone_brings_recommendations(snapshot_day):
    # A short digest: the papers like it that the topic section has no room for are
    # recommended (the ones it shows are not repeated, and weaker ones stay under the floor).
    reader = SubscriberFactory(max_papers=2, topics=[f"like:{LIKED[0]} -survey"])
    recommended = preview(reader, snapshot_day)["sections"]["recommended"]
    assert recommended and all(
        e["reason"]["similar_to"]["arxiv_id"] == LIKED[0] for e in recommended
    )


def test_a_like_topic_is_named_as_the_reason_unless_a_vote_says_it_too(
    snapshot_day, client, mailoutbox, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    topic = f"like:{LIKED[0]} -survey"
    title = Paper.objects.get(arxiv_id=LIKED[0]).title
    reader = SubscriberFactory(max_papers=2, topics=[topic])  # room left: see above
    expected = f"Similar to “{title}” from your topic {topic}"

    recommended = preview(reader, snapshot_day)["sections"]["recommended"]
    assert recommended and {e["reason"]["text"] for e in recommended} == {expected}
    assert {e["reason"]["similar_to"]["topic"] for e in recommended} == {topic}
    email = DayBuilder(snapshot_day).render(DayBuilder(snapshot_day).select(reader))
    assert f"Similar to <em>{html.escape(title)}</em> from your topic {topic}" in email.html
    assert f"Why: similar to “{title}” from your topic {topic}" in email.text
    assert "that you liked" not in email.html + email.text
    # "View in browser" says it the same way, from the delivery's row.
    deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    row = Delivery.objects.get(subscriber=reader)
    view = subscriber_links(reader, day=snapshot_day, delivery_id=row.pk).view_url
    page = client.get(view.removeprefix(settings.SITE_URL)).content.decode()
    assert f"from your topic {topic}" in page and "that you liked" not in page

    # Once the reader also votes "More like this" on it, it is a paper they liked.
    vote(reader, LIKED[0])
    recommended = preview(reader, snapshot_day)["sections"]["recommended"]
    assert recommended and {e["reason"]["text"] for e in recommended} == {
        f"Similar to “{title}” that you liked"
    }
    assert all("topic" not in e["reason"]["similar_to"] for e in recommended)


def test_votes_reorder_the_topic_section_without_removing_any(snapshot_day):
    reader = SubscriberFactory(max_papers=30, topics=["learning"])
    before = [e["arxiv_id"] for e in preview(reader, snapshot_day)["sections"]["topics"]]
    for arxiv_id in LIKED:
        vote(reader, arxiv_id)
    after = [e["arxiv_id"] for e in preview(reader, snapshot_day)["sections"]["topics"]]
    assert sorted(after) == sorted(before) and after != before
    # The liked interest's papers move up.
    moved = [i for i in before if i in ROBUSTNESS - set(LIKED)]
    assert moved and all(after.index(i) <= before.index(i) for i in moved)


def test_sent_recommendations_are_recorded_never_sent_again_and_shown_in_the_browser(
    snapshot_day, client, mailoutbox, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    reader = SubscriberFactory(max_papers=10)
    for arxiv_id in LIKED:
        vote(reader, arxiv_id)
    deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    row = Delivery.objects.get(subscriber=reader)
    recommended = [p for p in row.papers if p["section"] == "recommended"]
    assert recommended and "Recommended for you" in mailoutbox[0].alternatives[0][0]
    # The next day nothing of it comes again.
    next_day = snapshot_day + timedelta(days=1)
    Paper.objects.update(listed_on=next_day)
    again = DayBuilder(next_day).select(reader)
    assert not {p["arxiv_id"] for p in recommended} & {p.paper.arxiv_id for p in again.picks}
    # "View in browser" re-renders the section from the row.
    view = subscriber_links(reader, day=snapshot_day, delivery_id=row.pk).view_url
    page = client.get(view.removeprefix(settings.SITE_URL)).content.decode()
    assert "Recommended for you" in page and "that you liked" in page


def test_weekend_without_papers_stays_quiet(snapshot_day):
    reader = SubscriberFactory(quiet_day_note=True)
    for arxiv_id in LIKED:
        vote(reader, arxiv_id)
    saturday = snapshot_day + timedelta(days=(5 - snapshot_day.weekday()) % 7 or 7)
    Paper.objects.update(listed_on=saturday - timedelta(days=8))  # nothing in the window
    content = DayBuilder(saturday).select(reader)
    assert content.is_empty and content.recommended == [] and content.quiet_reason
