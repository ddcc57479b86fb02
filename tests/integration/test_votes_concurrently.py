"""Votes on PostgreSQL: two clicks on the same card at once (a double click, a reader's phone
and laptop) leave one row per reader and paper, and no error."""

from __future__ import annotations

import pytest

from subscriptions.feedback.votes import vote_record
from subscriptions.models import Vote
from tests.integration.test_delivery_services import at_once
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("attempt", range(5))
def test_simultaneous_first_votes_on_one_paper_make_one_row(attempt):
    reader, paper = SubscriberFactory(), PaperFactory()
    values = iter(["like", "dislike", "like", "dislike"])

    def vote() -> str:
        return vote_record(subscriber=reader, paper=paper, value=next(values)).value

    recorded = at_once(vote, threads=4, timeout=60)
    assert sorted(recorded) == ["dislike", "dislike", "like", "like"]
    (row,) = Vote.objects.filter(subscriber=reader, paper=paper)
    assert row.value in {"like", "dislike"}
