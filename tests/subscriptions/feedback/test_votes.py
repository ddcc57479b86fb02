"""The vote services: one row per reader and paper (a database constraint), only readers who
still get the digest, topic suggestions that are valid queries."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from digest.recommend import Vote as ModelVote
from digest.topics import validate
from subscriptions.feedback.selectors import votes_by_subscriber
from subscriptions.feedback.votes import (
    VoteNotAllowed,
    subscriber_votes,
    topic_suggestions,
    vote_record,
    vote_remove,
    votes_clear,
)
from subscriptions.models import Vote
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def test_the_database_keeps_one_vote_per_reader_and_paper_and_only_like_or_dislike():
    reader, paper = SubscriberFactory(), PaperFactory()
    Vote.objects.create(subscriber=reader, paper=paper, value="like")
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(subscriber=reader, paper=paper, value="dislike")
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(subscriber=reader, paper=PaperFactory(), value="love")


def test_record_replaces_remove_and_clear_touch_only_this_reader():
    reader, other = SubscriberFactory(), SubscriberFactory()
    papers = PaperFactory.create_batch(3)
    for paper in papers:
        vote_record(subscriber=reader, paper=paper, value="like")
    vote_record(subscriber=other, paper=papers[0], value="dislike")
    vote_record(subscriber=reader, paper=papers[0], value="dislike")
    assert [v.paper for v in subscriber_votes(subscriber=reader)] == [papers[0], *papers[:0:-1]]
    assert subscriber_votes(subscriber=reader)[0].value == "dislike"
    assert vote_remove(subscriber=reader, paper=papers[1]) is True
    assert vote_remove(subscriber=reader, paper=papers[1]) is False
    assert votes_clear(subscriber=reader) == 2
    assert list(Vote.objects.values_list("subscriber", flat=True)) == [other.pk]


def test_only_readers_who_get_the_digest_can_vote():
    paper = PaperFactory()
    for status in ("unsubscribed", "bounced", "complained", "pending"):
        with pytest.raises(VoteNotAllowed):
            vote_record(subscriber=SubscriberFactory(status=status), paper=paper, value="like")
    with pytest.raises(ValueError):
        vote_record(subscriber=SubscriberFactory(), paper=paper, value="meh")
    assert not Vote.objects.exists()


def test_topic_suggestions_are_valid_queries():
    paper = PaperFactory(
        title="B-cosification: Transforming Deep Neural Networks to be Inherently Interpretable",
        authors=['Shreyash "S" Arya', "Sukrut Rao", "Moritz Böhle"],
        keywords=[],
    )
    like = f"like:{paper.arxiv_id}"  # papers like this one, first
    assert topic_suggestions(paper=paper) == [like, 'author:"Sukrut Rao"', "B-cosification"]
    paper.keywords = ["vision transformers", 'odd "quoted" keyword']
    suggestions = topic_suggestions(paper=paper)
    assert suggestions == [
        like,
        'author:"Sukrut Rao"',
        '"vision transformers"',
        '"odd quoted keyword"',
    ]
    assert all(validate(query) is None for query in suggestions)


def test_a_batch_reads_its_readers_votes_in_one_query(django_assert_num_queries):
    readers = SubscriberFactory.create_batch(3)
    papers = PaperFactory.create_batch(2)
    vote_record(subscriber=readers[0], paper=papers[0], value="like")
    vote_record(subscriber=readers[0], paper=papers[1], value="dislike")
    vote_record(subscriber=readers[2], paper=papers[1], value="like")
    with django_assert_num_queries(1):
        found = votes_by_subscriber(subscriber_ids=[r.pk for r in readers])
    assert found == {
        readers[0].pk: [ModelVote(papers[1].arxiv_id, False), ModelVote(papers[0].arxiv_id, True)],
        readers[2].pk: [ModelVote(papers[1].arxiv_id, True)],
    }
