"""A database ready for a delivery run: migrated, the bundled listing as one day's papers, and N
active subscribers due at any hour. In-process for the tests on the test database; as a command
for a database the test or benchmark runs itself (a private cluster), with DATABASE_URL set:

    DATABASE_URL=postgres://... python -m tests.integration.seed --day 2026-12-03 --subscribers 3000
"""

from __future__ import annotations

import argparse
import os
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported at run time once Django is set up (main() runs before)
    from subscriptions.models import Subscriber


def make_subscribers(count: int, *, prefix: str = "reader") -> list[Subscriber]:
    """Active, due at any hour (delivery hour 0, UTC), trending only; addresses
    `<prefix>NNNNN@example.org` (a test adding readers in rounds names each round apart)."""
    from django.utils import timezone

    from subscriptions.models import Subscriber

    now = timezone.now()
    return Subscriber.objects.bulk_create(
        Subscriber(
            email=f"{prefix}{n:05d}@example.org",
            status=Subscriber.Status.ACTIVE,
            requested_at=now,
            confirmed_at=now,
            consent_source="test",
            delivery_hour=0,
            timezone="UTC",
        )
        for n in range(count)
    )


def load_listing(day: date) -> None:
    from digest.papers.ingest import papers_upsert
    from digest.sources.snapshot import load_snapshot

    papers_upsert(records=load_snapshot(listed_on=day).records, listed_on=day)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--subscribers", type=int, required=True)
    args = parser.parse_args()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load_listing(args.day)
    make_subscribers(args.subscribers)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    main()
