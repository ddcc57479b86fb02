"""`manage.py beat_alive`: exit 0 when beat wrote its liveness timestamp lately, 1 otherwise.

The beat container's health check (docker/compose.yaml); digest/monitoring/liveness.py.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from digest.monitoring.liveness import beat_age


class Command(BaseCommand):
    help = "Exit 0 when beat wrote its liveness timestamp within BEAT_STALE_SECONDS."

    def handle(self, *args: Any, **options: Any) -> None:
        age = beat_age()
        if age is None:
            raise CommandError("beat has never written its liveness timestamp (is it running?)")
        if age > settings.BEAT_STALE_SECONDS:
            raise CommandError(
                f"beat last wrote its timestamp {age:.0f} s ago "
                f"(more than BEAT_STALE_SECONDS={settings.BEAT_STALE_SECONDS})"
            )
        self.stdout.write(f"beat alive: last seen {age:.0f} s ago")
