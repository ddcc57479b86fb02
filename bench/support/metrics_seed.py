"""Seed bench/web.py's database for the /metrics scrape, then count the scrape's queries.

Run by bench/web.py in a subprocess with the server's environment (its DATABASE_URL or SQLite
file): READERS readers (most active, a few of every other status, in a dozen time zones and
every hour) and one delivery row each for today (UTC) in a day's mix of statuses, plus a week of
unknown rows, the day's tracking events (one `delivered` per message, 200 bounces and
complaints) and a month of both sources' fetch runs. Prints the number
of queries one collection of the figures makes, and the size of the exposition.
Usage (bench/web.py runs it): cd bench && python -m support.metrics_seed READERS
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time

from support.django_env import setup


def main() -> None:
    readers = int(sys.argv[1])
    setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from digest.models import Delivery, DeliveryEvent, FetchRun
    from digest.monitoring.metrics import metrics_text
    from subscriptions.models import Subscriber

    rng = random.Random(30)
    now = timezone.now()
    today = now.astimezone(dt.UTC).date()
    zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Los_Angeles",
             "Europe/London", "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo",
             "Africa/Lagos", "Asia/Shanghai", "Europe/Paris"]  # fmt: skip
    statuses = ["active"] * 94 + ["paused", "unsubscribed", "bounced", "complained", "pending"] * 1
    started = time.perf_counter()
    Subscriber.objects.bulk_create(
        (
            Subscriber(
                email=f"metrics-{n:06d}@example.org",
                status=rng.choice(statuses),
                requested_at=now,
                confirmed_at=now,
                consent_source="form",
                delivery_hour=n % 24,
                timezone=zones[n % len(zones)],
            )
            for n in range(readers)
        ),
        batch_size=5000,
    )
    ids = list(Subscriber.objects.filter(email__startswith="metrics-").values_list("id", flat=True))
    outcome = ["sent"] * 95 + ["queued", "sending", "failed", "rejected", "suppressed"]
    Delivery.objects.bulk_create(
        (
            Delivery(
                subscriber_id=pk,
                digest_date=today,
                status=(status := rng.choice(outcome)),
                claimed_at=now - dt.timedelta(minutes=rng.randint(1, 600)),
                finished_at=now - dt.timedelta(minutes=rng.randint(1, 600))
                if status == "sent"
                else None,
            )
            for pk in ids
        ),
        batch_size=5000,
    )
    Delivery.objects.bulk_create(
        Delivery(
            subscriber_id=pk, digest_date=today - dt.timedelta(days=1 + n % 6), status="unknown"
        )
        for n, pk in enumerate(ids[:50])
    )
    # The provider posts an event for every message (delivered), a few bounce or complain.
    DeliveryEvent.objects.bulk_create(
        (
            DeliveryEvent(
                event_id=f"e{n}",
                event_type="delivered" if n >= 200 else "bounced" if n % 4 else "complained",
            )
            for n in range(len(ids))
        ),
        batch_size=5000,
    )
    for source in ("hf", "arxiv"):
        for back in range(30):
            FetchRun.objects.create(
                source=source, for_date=today - dt.timedelta(days=back), status="ok",
                finished_at=now - dt.timedelta(days=back), fingerprint=f"{source}{back}",
            )  # fmt: skip
    print(
        f"seeded {readers:,} readers and {len(ids):,} deliveries for {today} "
        f"in {time.perf_counter() - started:.1f} s ({connection.vendor})"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum does soon after such a day
    with CaptureQueriesContext(connection) as captured:
        body, _ = metrics_text()
    print(
        f"one /metrics collection: {len(captured)} queries (database cache included: "
        f"{sum('django_cache' in q['sql'] for q in captured)}), {len(body):,} bytes"
    )


if __name__ == "__main__":
    main()
