"""Subscribers in the admin: the services behind each action, then the pages editors use."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from subscriptions.admin import services as admin_services
from subscriptions.models import Subscriber, Suppression
from subscriptions.readers.importing import parse_rows
from subscriptions.readers.services import SubscriberStateError, email_hash, is_suppressed
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:subscriptions_subscriber_changelist")
S = Subscriber.Status


# --- Services ----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [S.ACTIVE, S.PAUSED, S.PENDING])
def test_suppress_stops_someone_receiving_mail(status):
    subscriber = SubscriberFactory(status=status)
    assert admin_services.subscriber_suppress_by_editor(subscriber=subscriber) is True
    subscriber.refresh_from_db()
    assert subscriber.status == S.UNSUBSCRIBED and subscriber.unsubscribed_at
    assert Suppression.objects.get(email_hash=email_hash(subscriber.email)).reason == "editor"
    # Twice: nothing more happens.
    assert admin_services.subscriber_suppress_by_editor(subscriber=subscriber) is False
    assert Suppression.objects.count() == 1


def test_suppress_of_someone_who_left_keeps_their_status():
    subscriber = SubscriberFactory(status=S.COMPLAINED)
    assert admin_services.subscriber_suppress_by_editor(subscriber=subscriber) is True
    subscriber.refresh_from_db()
    assert subscriber.status == S.COMPLAINED
    assert is_suppressed(subscriber.email)


@pytest.mark.parametrize("status", [S.PAUSED, S.BOUNCED])
def test_reactivate_paused_or_bounced(status):
    subscriber = SubscriberFactory(status=status)
    assert admin_services.subscriber_reactivate(subscriber=subscriber) is True
    subscriber.refresh_from_db()
    assert subscriber.status == S.ACTIVE
    assert admin_services.subscriber_reactivate(subscriber=subscriber) is False


def test_reactivate_lifts_an_editors_suppression():
    subscriber = SubscriberFactory(status=S.ACTIVE)
    admin_services.subscriber_suppress_by_editor(subscriber=subscriber)
    assert admin_services.subscriber_reactivate(subscriber=subscriber) is True
    subscriber.refresh_from_db()
    assert subscriber.status == S.ACTIVE and subscriber.unsubscribed_at is None
    assert not is_suppressed(subscriber.email)


@pytest.mark.parametrize(
    ("status", "confirmed", "message"),
    [
        (S.UNSUBSCRIBED, True, "unsubscribed themselves"),
        (S.COMPLAINED, True, "spam"),
        (S.PENDING, False, "never confirmed"),
    ],
)
def test_reactivate_refuses_what_the_reader_chose(status, confirmed, message):
    subscriber = SubscriberFactory(status=status)
    if not confirmed:
        Subscriber.objects.filter(pk=subscriber.pk).update(confirmed_at=None)
        subscriber.refresh_from_db()
    with pytest.raises(SubscriberStateError, match=message):
        admin_services.subscriber_reactivate(subscriber=subscriber)
    subscriber.refresh_from_db()
    assert subscriber.status == status


def test_reactivate_keeps_an_erasure_or_complaint_suppression():
    subscriber = SubscriberFactory(status=S.BOUNCED)
    Suppression.objects.create(email_hash=email_hash(subscriber.email), reason="erased")
    with pytest.raises(SubscriberStateError, match="suppression list"):
        admin_services.subscriber_reactivate(subscriber=subscriber)
    subscriber.refresh_from_db()
    assert subscriber.status == S.BOUNCED


def test_suppress_after_own_unsubscribe_cannot_be_reactivated():
    subscriber = SubscriberFactory(status=S.UNSUBSCRIBED)
    admin_services.subscriber_suppress_by_editor(subscriber=subscriber)
    with pytest.raises(SubscriberStateError):
        admin_services.subscriber_reactivate(subscriber=subscriber)


def test_resend_confirmation_only_for_pending(django_capture_on_commit_callbacks):
    pending = SubscriberFactory(status=S.PENDING, confirmed_at=None)
    active = SubscriberFactory(status=S.ACTIVE)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_services.subscriber_resend_confirmation(subscriber=pending) is True
        assert admin_services.subscriber_resend_confirmation(subscriber=active) is False
    assert [m.to for m in mail.outbox] == [[pending.email]]
    assert "/confirm/" in mail.outbox[0].body


def test_export_rows_round_trip_through_the_importer():
    SubscriberFactory(
        email="a@example.org",
        topics=["diffusion", '"large language model" -survey'],
        cadence="weekly",
        weekday=2,
        delivery_hour=9,
        timezone="Europe/Paris",
        max_papers=12,
    )
    rows = list(admin_services.subscribers_export_rows(subscribers=Subscriber.objects.all()))
    assert rows == [
        ["email", "status", "topics", "cadence", "weekday", "hour", "timezone", "cap"],
        [
            "a@example.org",
            "active",
            'diffusion;"large language model" -survey',
            "weekly",
            "wednesday",
            "9",
            "Europe/Paris",
            "12",
        ],
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    parsed, errors = parse_rows(buffer.getvalue())
    assert errors == []
    assert parsed[0].topics == ["diffusion", '"large language model" -survey']
    assert parsed[0].values["cadence"] == "weekly" and parsed[0].values["weekday"] == 2


def test_export_cells_never_start_a_spreadsheet_formula_and_import_back_unchanged():
    SubscriberFactory(email="=1+2@example.org", topics=["-survey diffusion", "@team robots"])
    SubscriberFactory(email="+tag@example.org", topics=["diffusion"])
    everyone = Subscriber.objects.order_by("pk")
    rows = list(admin_services.subscribers_export_rows(subscribers=everyone))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert rows[1][:3] == ["'=1+2@example.org", "active", "'-survey diffusion;@team robots"]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    parsed, errors = parse_rows(buffer.getvalue())
    assert errors == []
    assert {(p.email, tuple(p.topics)) for p in parsed} == {
        ("=1+2@example.org", ("-survey diffusion", "@team robots")),
        ("+tag@example.org", ("diffusion",)),
    }


# --- Admin pages -------------------------------------------------------------------------------
def test_non_staff_cannot_reach_subscribers(client):
    client.force_login(get_user_model().objects.create_user("reader", "r@example.org", "pw"))
    subscriber = SubscriberFactory()
    for url in (
        CHANGELIST,
        reverse("admin:subscriptions_subscriber_preview", args=[subscriber.pk]),
        reverse("admin:subscriptions_subscriber_import"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_changelist_shows_counts_by_status_and_filters(admin_client):
    SubscriberFactory.create_batch(2, status=S.ACTIVE)
    SubscriberFactory(status=S.BOUNCED)
    html = admin_client.get(CHANGELIST).content.decode()
    assert 'ax-active">active</span> <strong>2</strong>' in html
    assert 'ax-bounced">bounced</span> <strong>1</strong>' in html
    assert 'ax-complained">complained</span> <strong>0</strong>' in html
    response = admin_client.get(CHANGELIST + "?status__exact=bounced")
    assert [s.status for s in response.context["cl"].result_list] == ["bounced"]
    response = admin_client.get(CHANGELIST + "?q=reader")
    assert response.status_code == 200


def _act(client, action, subscribers, **extra):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [s.pk for s in subscribers], **extra},
        follow=True,
    )


def test_suppress_and_reactivate_actions(admin_client):
    active, complained = SubscriberFactory(status=S.ACTIVE), SubscriberFactory(status=S.COMPLAINED)
    _act(admin_client, "suppress", [active])
    active.refresh_from_db()
    assert active.status == S.UNSUBSCRIBED and is_suppressed(active.email)
    assert LogEntry.objects.filter(object_id=str(active.pk), change_message="Suppressed").exists()

    response = _act(admin_client, "reactivate", [active, complained])
    active.refresh_from_db()
    complained.refresh_from_db()
    assert (active.status, complained.status) == (S.ACTIVE, S.COMPLAINED)
    assert (
        "Refused: " in response.content.decode() and complained.email in response.content.decode()
    )


def test_resend_confirmation_action(admin_client, django_capture_on_commit_callbacks):
    pending = SubscriberFactory(status=S.PENDING, confirmed_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        _act(admin_client, "resend_confirmation", [pending, SubscriberFactory()])
    assert [m.to for m in mail.outbox] == [[pending.email]]


def test_export_csv_action(admin_client):
    chosen = SubscriberFactory(email="b@example.org", topics=["cat:cs.CL", "robots"])
    SubscriberFactory(email="not-chosen@example.org")
    response = admin_client.post(
        CHANGELIST, {"action": "export_csv", "_selected_action": [chosen.pk]}
    )
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode() == (
        "email,status,topics,cadence,weekday,hour,timezone,cap\r\n"
        "b@example.org,active,cat:cs.CL;robots,daily,monday,7,UTC,10\r\n"
    )


def test_actions_refuse_get(admin_client):
    subscriber = SubscriberFactory()
    admin_client.get(CHANGELIST, {"action": "suppress", "_selected_action": subscriber.pk})
    subscriber.refresh_from_db()
    assert subscriber.status == S.ACTIVE


def test_no_add_or_delete(admin_client):
    subscriber = SubscriberFactory()
    assert admin_client.get(reverse("admin:subscriptions_subscriber_add")).status_code == 403
    url = reverse("admin:subscriptions_subscriber_delete", args=[subscriber.pk])
    assert admin_client.get(url).status_code == 403


def test_import_page(admin_client):
    url = reverse("admin:subscriptions_subscriber_import")
    assert "Import subscribers" in admin_client.get(url).content.decode()
    upload = SimpleUploadedFile(
        "list.csv",
        b"email,topics,hour\r\nnew@example.org,robots;diffusion,8\r\nnot-an-email,x,7\r\n",
        content_type="text/csv",
    )
    response = admin_client.post(url, {"file": upload, "confirmed": "on"})
    html = response.content.decode()
    assert "1 created" in html and "1 bad row" in html and "1 bad rows" not in html
    assert "<td>3</td>" in html  # the bad row's line number
    new = Subscriber.objects.get(email="new@example.org")
    assert new.status == S.ACTIVE and new.consent_source == "import:list.csv"
    assert [t.query for t in new.topics.all()] == ["robots", "diffusion"]


def test_preview_shows_the_digest_and_sends_a_test(admin_client, admin_user):
    PaperFactory(title="Trending & <escaped> paper", upvotes=30)
    subscriber = SubscriberFactory(email="reader@example.org")
    url = reverse("admin:subscriptions_subscriber_preview", args=[subscriber.pk])
    change = admin_client.get(
        reverse("admin:subscriptions_subscriber_change", args=[subscriber.pk])
    )
    assert url in change.content.decode()

    response = admin_client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'sandbox=""' in html and "srcdoc=" in html
    assert "Trending &amp;amp; &amp;lt;escaped&amp;gt; paper" in html  # escaped twice: once in
    # the email, once more inside the srcdoc attribute
    # The text part is literal, and escaped once on the page.
    assert "Trending & <escaped> paper" in response.context["rendered"].text
    assert "Trending &amp; &lt;escaped&gt; paper" in html

    admin_user.email = "editor@example.org"
    admin_user.save()
    response = admin_client.post(url, follow=True)
    assert "Test sent to editor@example.org" in response.content.decode()
    assert [m.to for m in mail.outbox] == [["editor@example.org"]]
    assert mail.outbox[0].subject.startswith("[Test for reader@example.org]")
    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers
    # Nothing in the editor's copy acts on the subscriber's subscription.
    sent_html = mail.outbox[0].alternatives[0][0]
    for part in (mail.outbox[0].body, sent_html):
        assert "/manage/" not in part and "/unsubscribe/" not in part
        assert "/digests/" in part  # the day's public digest stands in for "view in browser"


def test_preview_when_nothing_would_be_sent(admin_client):
    subscriber = SubscriberFactory()
    url = reverse("admin:subscriptions_subscriber_preview", args=[subscriber.pk])
    assert "no listing has been fetched" in admin_client.get(url).content.decode().lower()


def test_reactivate_after_a_webhook_bounce_but_not_a_complaint():
    from subscriptions.readers.services import subscriber_suppress

    bounced = subscriber_suppress(subscriber=SubscriberFactory(), reason="bounced")
    complained = subscriber_suppress(subscriber=SubscriberFactory(), reason="complained")
    assert admin_services.subscriber_reactivate(subscriber=bounced) is True
    assert not is_suppressed(bounced.email)
    with pytest.raises(SubscriberStateError):
        admin_services.subscriber_reactivate(subscriber=complained)
    assert is_suppressed(complained.email)
