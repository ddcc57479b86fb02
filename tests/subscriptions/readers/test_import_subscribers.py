"""import_subscribers: bad rows reported by line, good rows imported, re-import updates."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from subscriptions.models import Subscriber
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

ROWS = [
    ["email", "topics", "cadence", "hour", "timezone", "cap"],
    ["Ada@Example.org", 'diffusion;"medical image"', "daily", "7", "Europe/Paris", "8"],
    ["grace@example.org", "self-supervised", "weekly", "", "", ""],
    ["not-an-email", "diffusion", "", "", "", ""],
    ["bad.topic@example.org", '"unclosed', "", "", "", ""],
    ["bad.hour@example.org", "diffusion", "daily", "25", "", ""],
    ["bad.zone@example.org", "diffusion", "daily", "7", "Mars/Olympus", ""],
    ["multi, line@example.org", "diffusion", "", "", "", ""],
]


def as_csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)  # RFC 4180 quoting
    return buffer.getvalue()


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "readers.csv"
    path.write_text(as_csv(ROWS), encoding="utf-8")
    return path


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_imported(csv_file, capsys):
    call_command("import_subscribers", str(csv_file), "--confirmed")
    err = capsys.readouterr().err
    assert "readers.csv:4: invalid email 'not-an-email'" in err
    assert "readers.csv:5: topic" in err and "quote" in err.lower()
    assert "readers.csv:6: hour must be 0-23" in err
    assert "readers.csv:7: unknown time zone 'Mars/Olympus'" in err
    assert "readers.csv:8: invalid email" in err

    assert sorted(Subscriber.objects.values_list("email", flat=True)) == [
        "ada@example.org",
        "grace@example.org",
    ]
    ada = Subscriber.objects.get(email="ada@example.org")
    assert ada.status == Subscriber.Status.ACTIVE
    assert (ada.delivery_hour, ada.timezone, ada.max_papers) == (7, "Europe/Paris", 8)
    assert [t.query for t in ada.topics.all()] == ["diffusion", '"medical image"']
    assert ada.consent_source == "import:readers.csv" and ada.confirmed_at is not None
    assert Subscriber.objects.get(email="grace@example.org").cadence == "weekly"


def test_a_row_with_several_problems_reports_them_all_and_a_weekday_is_read(tmp_path, capsys):
    path = tmp_path / "readers.csv"
    rows = [
        ["email", "topics", "cadence", "weekday", "hour", "timezone", "cap"],
        ["bad@example.org", "diffusion", "fortnightly", "someday", "25", "Factory", "0"],
        ["wed@example.org", "diffusion", "weekly", "Wed", "18", "America/New_York", ""],
    ]
    path.write_text(as_csv(rows), encoding="utf-8")
    call_command("import_subscribers", str(path), "--confirmed")
    err = capsys.readouterr().err
    for problem in (
        "cadence must be daily or weekly, got 'fortnightly'",
        "weekday must be a day's name such as monday or mon, got 'someday'",
        "hour must be 0-23, got '25'",
        "unknown time zone 'Factory'",
        "cap must be 1-50, got '0'",
    ):
        assert problem in err
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["wed@example.org"]
    assert Subscriber.objects.get().schedule == "every Wednesday at 18:00 (America/New_York)"


def test_without_confirmed_new_addresses_must_confirm(
    csv_file, mailoutbox, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_subscribers", str(csv_file))
    assert set(Subscriber.objects.values_list("status", flat=True)) == {"pending"}
    assert sorted(m.to[0] for m in mailoutbox) == ["ada@example.org", "grace@example.org"]
    assert all("/confirm/" in m.body for m in mailoutbox)
    assert "2 confirmation emails queued" in capsys.readouterr().out


def test_confirmed_import_sends_no_confirmation(
    csv_file, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_subscribers", str(csv_file), "--confirmed")
    assert mailoutbox == []


def test_reimport_updates_and_never_reactivates_an_opt_out(csv_file, tmp_path):
    SubscriberFactory(email="grace@example.org", status=Subscriber.Status.UNSUBSCRIBED)
    call_command("import_subscribers", str(csv_file), "--confirmed")
    assert Subscriber.objects.get(email="grace@example.org").status == "unsubscribed"

    again = tmp_path / "again.csv"
    again.write_text("email,topics,hour\nada@example.org,transformer,9\n", encoding="utf-8")
    call_command("import_subscribers", str(again), "--confirmed")
    ada = Subscriber.objects.get(email="ada@example.org")
    assert ada.delivery_hour == 9
    assert [t.query for t in ada.topics.all()] == ["transformer"]


def test_a_file_without_the_required_columns_fails(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("address,interests\nada@example.org,x\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing column"):
        call_command("import_subscribers", str(path))
    assert not Subscriber.objects.exists()


def test_an_exports_status_column_is_heeded_under_confirmed(
    tmp_path, mailoutbox, django_capture_on_commit_callbacks
):
    path = tmp_path / "export.csv"
    rows = [
        ["email", "status", "topics", "cadence", "weekday", "hour", "timezone", "cap"],
        ["active@example.org", "active", "diffusion", "daily", "monday", "7", "UTC", "10"],
        ["paused@example.org", "paused", "diffusion", "daily", "monday", "7", "UTC", "10"],
        ["pending@example.org", "pending", "diffusion", "daily", "monday", "7", "UTC", "10"],
        ["left@example.org", "unsubscribed", "diffusion", "daily", "monday", "7", "UTC", "10"],
    ]
    path.write_text(as_csv(rows), encoding="utf-8")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_subscribers", str(path), "--confirmed")
    statuses = dict(Subscriber.objects.values_list("email", "status"))
    # Nobody the file marks unconfirmed becomes active, and who left is not added back.
    assert statuses == {
        "active@example.org": "active",
        "paused@example.org": "paused",
        "pending@example.org": "pending",
    }
    assert [m.to for m in mailoutbox] == [["pending@example.org"]]  # must confirm, as a signup


def test_a_bad_status_is_a_bad_row(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(as_csv([["email", "status", "topics"], ["a@example.org", "vip", "x"]]))
    with pytest.raises(CommandError, match="line 2: status must be one of pending, active"):
        call_command("import_subscribers", str(path), "--confirmed")
    assert not Subscriber.objects.exists()
