"""Public pages of the digest itself: the trending list (home) and the health check."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from digest.celery import app as celery_app
from digest.selectors import latest_listing_day, trending_papers

log = logging.getLogger(__name__)
HOME_PAPERS = 30


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The latest listing day's trending papers, the way the Daily Papers page shows them."""
    day = latest_listing_day()
    papers = trending_papers(day=day, limit=HOME_PAPERS) if day else []
    return render(request, "web/home.html", {"day": day, "papers": papers})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database (and the broker, when one is configured) answers; 503 naming the
    part that failed otherwise."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        log.error("healthz: database check failed: %s", exc)
        checks["database"] = "failed"
    if settings.CELERY_BROKER_URL:
        try:
            with celery_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=5)
            checks["broker"] = "ok"
        except Exception as exc:
            log.error("healthz: broker check failed: %s", exc)
            checks["broker"] = "failed"
    else:
        checks["broker"] = "not configured"
    healthy = all(value in ("ok", "not configured") for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
