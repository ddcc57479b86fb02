"""`manage.py demo` (what `make demo` runs before serving): one digest per active demo reader,
differing by topic, nothing on a second run, and a fresh day when run on another day."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def subjects(folder) -> dict[str, str]:
    found = {}
    for path in folder.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[str(message["To"])] = str(message["Subject"])
    return found


def test_demo_sends_one_digest_per_reader_once_a_day(file_outbox, capsys):
    with time_machine.travel(datetime(2026, 11, 24, 8, 0, tzinfo=UTC), tick=False):
        call_command("demo")
    first = subjects(file_outbox)
    assert sorted(first) == [
        "ada@example.org",
        "alan@example.org",
        "emmy@example.org",
        "grace@example.org",
        "katherine@example.org",
    ]
    assert len(set(first.values())) == 5  # each reader's topics make their own digest
    # alan's like: topic brings a Recommended section; nobody else has votes or like: topics.
    recommended = [
        path.name
        for path in file_outbox.glob("*.html")
        if "Recommended for you" in path.read_text()
    ]
    assert len(recommended) == 1 and "-alan@example.org-" in recommended[0]
    out = capsys.readouterr().out
    assert "Papers listed today: 57" in out and "Digests written now: 5" in out
    assert "user 'admin', password 'digest-demo'" in out
    assert get_user_model().objects.get(username="admin").is_superuser

    with time_machine.travel(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), tick=False):
        call_command("demo")
    assert "Digests written now: 0" in capsys.readouterr().out
    assert len(list(file_outbox.glob("*.eml"))) == 5

    with time_machine.travel(datetime(2026, 11, 25, 8, 0, tzinfo=UTC), tick=False):
        call_command("demo")
    out = capsys.readouterr().out
    assert "Papers listed today: 57" in out
    # A fresh day: everyone gets a digest again, and never a paper they already had.
    assert "Digests written now: 5" in out
    from digest.models import Delivery

    for reader in first:
        days = Delivery.objects.filter(subscriber__email=reader).order_by("digest_date")
        sent = [{item["arxiv_id"] for item in d.papers} for d in days]
        assert len(sent) == 2 and sent[0] and sent[1] and not sent[0] & sent[1]


def test_a_second_run_lists_the_readers_as_they_are_now(file_outbox, capsys):
    from subscriptions.models import Subscriber

    call_command("demo")
    grace = Subscriber.objects.get(email="grace@example.org")
    grace.topics.all().delete()
    grace.topics.create(query="graph neural")
    Subscriber.objects.filter(email="ada@example.org").update(status="paused")
    capsys.readouterr()
    call_command("demo")
    lines = capsys.readouterr().out.splitlines()
    assert any("grace@example.org" in line and line.endswith("graph neural") for line in lines)
    assert any("ada@example.org" in line and line.endswith("(paused)") for line in lines)
