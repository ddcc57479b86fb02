"""Following on PostgreSQL: a double click (two POSTs at once) makes one follow, never an error."""

from __future__ import annotations

import pytest

from subscriptions.feedback.follows import follow_start
from subscriptions.models import Follow
from tests.integration.test_delivery_services import at_once
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_following_twice_at_once_is_one_follow():
    reader, paper = SubscriberFactory(), PaperFactory()
    for _ in range(5):
        Follow.objects.all().delete()
        follows = at_once(lambda: follow_start(subscriber=reader, paper=paper), threads=4)
        assert len({f.pk for f in follows}) == 1
        assert Follow.objects.filter(subscriber=reader, paper=paper).count() == 1
