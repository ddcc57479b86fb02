"""Tell operators when the day's fetch or send did not happen: an error log line and, when
ADMINS is configured, an email (the admin dashboard shows the same warnings as a banner)."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from django.core.cache import cache
from django.core.mail import mail_admins
from django.utils import timezone

from digest.monitoring.dashboard import HealthWarning, todays_warnings

logger = logging.getLogger(__name__)


def daily_health_report(*, now: datetime | None = None) -> list[HealthWarning]:
    """Report today's warnings once each: the check runs hourly, the email goes out once."""
    now = now or timezone.now()
    warnings = todays_warnings(now=now)
    for warning in warnings:
        logger.error("%s: %s", warning.title, warning.detail)
        # The title hashed: a key with spaces is not portable across cache backends (memcached).
        title = hashlib.sha256(warning.title.encode()).hexdigest()[:16]
        key = f"health-mailed:{now.astimezone(UTC).date()}:{title}"
        # cache.add is atomic: two beats or a retried task still send one email.
        if cache.add(key, True, timeout=36 * 3600):
            mail_admins(warning.title, warning.detail, fail_silently=True)
    return warnings
