"""preview_digest: exactly what one subscriber would get for a day, as HTML, text or JSON."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from digest.composing.build import digest_preview_content
from digest.management.commands.fetch_papers import parse_day
from digest.papers.selectors import latest_listing_day
from subscriptions.models import Subscriber
from subscriptions.readers.services import normalize_email


class Command(BaseCommand):
    help = "Show the digest a subscriber would get (nothing is sent or recorded)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--date", dest="day", help="YYYY-MM-DD, default the latest listing")
        parser.add_argument("--format", choices=["html", "text", "json"], default="text")
        parser.add_argument("--out", type=Path, help="write to this file instead of stdout")

    def handle(
        self, *args: Any, email: str, day: str | None, format: str, out: Path | None, **options: Any
    ) -> None:
        subscriber = Subscriber.objects.filter(email=normalize_email(email)).first()
        if subscriber is None:
            raise CommandError(f"No subscriber with the address {email!r}.")
        for_date = parse_day(day) if day else latest_listing_day()
        if for_date is None:
            raise CommandError("No papers have been fetched yet: run fetch_papers first.")
        preview = digest_preview_content(subscriber=subscriber, day=for_date)
        not_sent = _not_sent_because(subscriber, for_date, has_email=preview.email is not None)
        if format == "json":
            output = json.dumps(
                {
                    "email": subscriber.email,
                    "date": for_date.isoformat(),
                    "subject": preview.email.subject if preview.email else None,
                    "would_send": not_sent is None,
                    # Why the daily job would not send this one (None: it would).
                    "not_sent_because": not_sent,
                    "quiet_reason": preview.content.quiet_reason,
                    # A source that served nothing new that day, as the intro line says it.
                    "upstream_note": preview.content.upstream_note,
                    "sections": {
                        "updates": [
                            {
                                "arxiv_id": u.paper.arxiv_id,
                                "kind": u.kind,
                                "detail": u.detail,
                                "date": u.seen_on.isoformat(),
                                "url": u.url,
                            }
                            for u in preview.content.updates
                        ],
                        "trending": _section(preview.content.trending),
                        "topics": _section(preview.content.topics),
                        "recommended": _section(preview.content.recommended),
                    },
                },
                indent=2,
            )
        elif preview.email is None:
            raise CommandError(
                f"Nothing to send to {subscriber.email} for {for_date}: "
                f"{preview.content.quiet_reason}"
            )
        else:
            output = (
                preview.email.html
                if format == "html"
                else (f"Subject: {preview.email.subject}\n\n{preview.email.text}")
            )
        if out:
            out.write_text(output, encoding="utf-8")
            self.stdout.write(self.style.SUCCESS(f"Wrote {format} preview to {out}"))
        else:
            self.stdout.write(output)


def _not_sent_because(subscriber: Subscriber, day: date, *, has_email: bool) -> str | None:
    """What keeps the daily job from sending this digest: the reader's status, a digest
    already sent (or on its way) for the day, a feed-only reader, or nothing to say."""
    if subscriber.status != Subscriber.Status.ACTIVE:
        return f"the subscriber is {subscriber.get_status_display().lower()}"
    delivery = subscriber.deliveries.filter(digest_date=day).first()
    if delivery is not None:
        return f"the digest of {day} is already {delivery.get_status_display().lower()}"
    if subscriber.deliver_by == Subscriber.DeliverBy.FEED:
        return "the reader takes it in their feed only: it is published there, not emailed"
    return None if has_email else "nothing new, and no quiet-day note asked for"


def _section(picks: list[Any]) -> list[dict[str, object]]:
    return [
        {
            "arxiv_id": p.paper.arxiv_id,
            "title": p.paper.title,
            "upvotes": p.paper.upvotes,
            "reason": p.reason.as_dict(),
        }
        for p in picks
    ]
