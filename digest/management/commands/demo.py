"""demo: everything `make demo` shows, on the embedded defaults (SQLite, no queue, var/outbox/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from subscriptions.models import Subscriber
from subscriptions.readers.services import topics_replace

ADMIN_USER = "admin"
# A laptop demo only; production admins use createsuperuser.
ADMIN_PASSWORD = "digest-demo"  # noqa: S105

# Readers with different interests, so each demo email differs.
DEMO_SUBSCRIBERS: list[dict[str, Any]] = [
    {"email": "ada@example.org", "topics": ["diffusion", '"medical image"'], "cap": 8},
    {"email": "grace@example.org", "topics": ["self-supervised OR contrastive"], "cap": 6},
    {
        "email": "alan@example.org",
        # like: a paper of the bundled listing: his digest also has "Recommended for you".
        "topics": ['"reinforcement learning"', "adversarial -survey", "like:2306.01762"],
    },
    {"email": "katherine@example.org", "topics": ["survey transformer"], "cadence": "weekly"},
    {"email": "emmy@example.org", "topics": []},  # no topics: the trending list alone
]
PENDING = "not-yet-confirmed@example.org"  # signed up, never confirmed: gets nothing


class Command(BaseCommand):
    help = "Load the bundled listing, create demo readers and an admin, run the daily job once."

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        self.stdout.write(self.style.MIGRATE_HEADING("1. Papers"))
        call_command("fetch_papers", source="snapshot", day=today.isoformat(), stdout=self.stdout)

        self.stdout.write(self.style.MIGRATE_HEADING("2. Readers and an editor"))
        self._subscribers(today)
        self._admin()

        self.stdout.write(self.style.MIGRATE_HEADING("3. The daily job"))
        outbox = Path(settings.EMAIL_FILE_PATH)
        before = set(outbox.glob("*.eml")) if outbox.exists() else set()
        call_command("send_digests", day=today.isoformat(), stdout=self.stdout)
        written = sorted(set(outbox.glob("*.eml")) - before) if outbox.exists() else []

        self.stdout.write(self.style.MIGRATE_HEADING("Summary"))
        from digest.models import Paper

        self.stdout.write(f"  Papers listed today: {Paper.objects.filter(listed_on=today).count()}")
        self.stdout.write(f"  Digests written now: {len(written)} (running it again sends none)")
        for path in written:
            self.stdout.write(f"    {path}  (+ {path.with_suffix('.html').name})")
        self.stdout.write(f"  Outbox: {outbox}/")
        self.stdout.write(
            f"  Site:   {settings.SITE_URL}/   today's digest: "
            f"{settings.SITE_URL}/digests/{today.isoformat()}/"
        )
        self.stdout.write(
            f"  Admin:  {settings.SITE_URL}/admin/  user {ADMIN_USER!r}, "
            f"password {ADMIN_PASSWORD!r}"
        )
        self.stdout.write(
            "  Preview one: .venv/bin/python manage.py preview_digest ada@example.org --format json"
        )

    def _subscribers(self, today: Any) -> None:
        now = timezone.now()
        for spec in DEMO_SUBSCRIBERS:
            subscriber, created = Subscriber.objects.get_or_create(
                email=spec["email"],
                defaults={
                    "status": Subscriber.Status.ACTIVE,
                    "requested_at": now,
                    "confirmed_at": now,
                    "consent_source": "demo",
                    "consent_text": "Demo reader created by `make demo`",
                    "cadence": spec.get("cadence", Subscriber.Cadence.DAILY),
                    "weekday": today.weekday(),
                    "max_papers": spec.get("cap", 10),
                },
            )
            if created:
                topics_replace(subscriber=subscriber, queries=spec["topics"])
            # As they are now: a reader may have changed them since the first run.
            queries = [topic.query for topic in subscriber.topics.all()]
            topics = "; ".join(queries) or "(none: trending only)"
            status = (
                "" if subscriber.status == Subscriber.Status.ACTIVE else f" ({subscriber.status})"
            )
            self.stdout.write(f"  {subscriber.email:<24} {subscriber.cadence:<7} {topics}{status}")
        Subscriber.objects.get_or_create(
            email=PENDING, defaults={"requested_at": now, "consent_source": "demo"}
        )
        self.stdout.write(f"  {PENDING:<24} pending (never confirmed: gets no digest)")

    def _admin(self) -> None:
        User = get_user_model()
        if not User.objects.filter(username=ADMIN_USER).exists():
            User.objects.create_superuser(ADMIN_USER, "admin@example.org", ADMIN_PASSWORD)
        self.stdout.write(f"  editor login: {ADMIN_USER} / {ADMIN_PASSWORD}")
