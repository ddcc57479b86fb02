"""Recommended for you: the day's papers a reader's votes and library point to, and the topic
section reordered by them.

A reader's model comes from their votes ("More / Less like this"), their reference library
(positive examples, a large one summarised by a few representatives) and their `like:` topics,
which count as likes (an excluded `-like:` as a dislike). Readers with none cost nothing. The
votes and libraries of a send batch are read in three queries
(`subscriptions.library.selectors.positives_by_subscriber`); the text features
are fitted once per day and process (:class:`digest.recommend.WindowFeatures`, on the
DayContext), and scoring a reader is a product of at most a few dozen similarity rows the day
keeps.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from digest.composing.content import DigestContent, Pick, Reason, Section
from digest.composing.selection import DayContext
from digest.recommend import Vote, reader_model_train, recommend, reorder
from digest.topics import QueryError, parse
from digest.topics.query import Term
from subscriptions.library.selectors import NO_POSITIVES, ReaderPositives, Source


def topic_votes(topics: Iterable[str]) -> dict[str, tuple[Vote, str]]:
    """`like:` topics as votes, by arXiv id, each with the first topic naming the paper:
    `like:X` likes X; `... -like:X` (left out) dislikes it."""
    found: dict[str, tuple[Vote, str]] = {}
    for topic in topics:
        try:
            root = parse(topic).root
        except QueryError:
            continue
        excluded = {n.text for n in root.exclude if isinstance(n, Term) and n.field == "like"}
        for arxiv_id in parse(topic).liked_ids:  # parse() is cached
            found.setdefault(arxiv_id, (Vote(arxiv_id, arxiv_id not in excluded), topic))
    return found


def recommended_select(
    *,
    content: DigestContent,
    positives: ReaderPositives = NO_POSITIVES,
    topics: list[str],
    context: DayContext,
    already_sent: set[str],
) -> None:
    """Add the Recommended section to `content` and reorder its topic section, in place.
    `already_sent` includes the reader's library (papers they have are never recommended)."""
    subscriber = content.subscriber
    if not subscriber.recommendations_enabled or not (
        positives or any("like:" in t for t in topics)
    ):
        return
    votes = positives.votes
    # A vote on a paper wins over a `like:` topic naming it; the reason then says "you liked".
    voted_on = {vote.arxiv_id for vote in votes} | set(positives.library)
    from_topics = {i: pair for i, pair in topic_votes(topics).items() if i not in voted_on}
    model = reader_model_train(
        votes=[*votes, *(vote for vote, _ in from_topics.values())], library=positives.library
    )
    if model is None:
        return
    features = context.features
    stored = [key for key in model.coefficients if key not in positives.texts]
    voted = {**features.texts(stored), **positives.texts}
    day = features.window if content.weekly else features.today
    if content.topics:
        shown = features.texts([pick.paper.arxiv_id for pick in content.topics])
        order = reorder(day=day, model=model, voted=voted, papers=list(shown.values()))
        position = {arxiv_id: n for n, arxiv_id in enumerate(order)}
        content.topics.sort(key=lambda pick: position[pick.paper.arxiv_id])
    # Not a paper already in this email or sent before, nor one under the reader's upvote floor.
    exclude = already_sent | {pick.paper.arxiv_id for pick in content.picks}
    if subscriber.min_upvotes:
        exclude |= {context.papers[pk].arxiv_id for pk in context.below(subscriber.min_upvotes)}
    by_arxiv_id = context.pk_by_arxiv_id
    for found in recommend(
        day=day,
        model=model,
        voted=voted,
        exclude=exclude,
        limit=settings.DIGEST_RECOMMENDED_COUNT,
    ):
        pk = by_arxiv_id.get(found.arxiv_id)
        liked = voted.get(found.because_of)
        if pk is None or liked is None:
            continue
        _, topic = from_topics.get(found.because_of, (None, ""))
        source = Source.LIKE if topic else positives.source(found.because_of)
        reason = Reason(
            similar_to="" if found.because_of.startswith("library:") else found.because_of,
            similar_title=liked.title,
            similar_topic=topic,
            similar_source=source.value,
        )
        content.recommended.append(Pick(context.papers[pk], Section.RECOMMENDED, reason))
    if content.recommended:
        content.quiet_reason = ""
