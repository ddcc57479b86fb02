"""preview_digest --format json: whether the daily job would send this digest, and why not."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def preview(email, day) -> dict:
    out = StringIO()
    call_command("preview_digest", email, "--date", day.isoformat(), "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_would_send_until_the_days_digest_is_sent(snapshot_day, file_outbox):
    SubscriberFactory(email="ada@example.org", topics=["diffusion"])
    before = preview("ada@example.org", snapshot_day)
    assert before["would_send"] is True and before["not_sent_because"] is None
    call_command("send_digests", day=snapshot_day.isoformat())
    after = preview("ada@example.org", snapshot_day)
    assert after["would_send"] is False
    assert after["not_sent_because"] == f"the digest of {snapshot_day} is already sent"
    assert after["subject"]  # still shows what the digest holds


@pytest.mark.parametrize("status", ["paused", "unsubscribed"])
def test_a_reader_who_gets_nothing_is_said_so(snapshot_day, status):
    SubscriberFactory(email="ada@example.org", status=status)
    found = preview("ada@example.org", snapshot_day)
    assert found["would_send"] is False
    assert found["not_sent_because"] == f"the subscriber is {status}"
