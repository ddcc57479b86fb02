"""Operators' endpoints: /healthz for the load balancer and the containers, /metrics for
Prometheus. Thin: checks and figures come from liveness.py and metrics.py."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app
from digest.monitoring.liveness import beat_age, beat_is_alive, workers_answered
from digest.monitoring.metrics import metrics_text

log = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database (and the broker, when one is configured) answers; 503 naming the
    part that failed otherwise. `?deep=1` also asks whether beat wrote its timestamp lately and
    a worker answered a ping in the last few minutes (docs/operations.md)."""
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
    details: dict[str, str] = {}
    if request.GET.get("deep") and settings.CELERY_BROKER_URL:
        _deep_checks(checks, details)
    healthy = all(value in ("ok", "not configured") for value in checks.values())
    return JsonResponse({**checks, **details}, status=200 if healthy else 503)


def _deep_checks(checks: dict[str, str], details: dict[str, str]) -> None:
    """Beat's timestamp and a worker's answer; `details` says when each was last seen."""
    try:
        age = beat_age()
        checks["beat"] = "ok" if beat_is_alive() else "stale"
        details["beat_seconds_ago"] = "never" if age is None else f"{age:.0f}"
    except Exception as exc:  # the cache (Redis) away
        log.error("healthz: beat check failed: %s", exc)
        checks["beat"] = "failed"
    answered, when = workers_answered()
    checks["workers"] = "ok" if answered else "no answer"
    if when is not None:
        details["workers_last_answer"] = when.isoformat(timespec="seconds")
    if checks["beat"] != "ok" or not answered:
        log.error("healthz: beat %s, workers %s", checks["beat"], checks["workers"])


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given, token)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; 404 unless METRICS_TOKEN is set and sent as a bearer token, so
    the endpoint's existence is not advertised."""
    if not _authorized(request):
        raise Http404
    body, content_type = metrics_text()
    return HttpResponse(body, content_type=content_type)
