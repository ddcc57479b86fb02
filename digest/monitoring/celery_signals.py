"""Celery signal receivers that count what happens in the workers (counters.py).

Connected when digest.tasks is imported, which every worker does (autodiscovery).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery.signals import task_failure
from django.conf import settings

from digest.monitoring.counters import counter_add
from digest.monitoring.heartbeats import job_failed

# A batch's outcomes that are messages handed (or not) to the backend; "suppressed", "empty" and
# "skipped" rows never reached it.
MESSAGE_OUTCOMES = ("sent", "failed", "rejected", "retrying")
# The tasks whose failure is a failed run of a watched job (HEARTBEAT_URLS).
JOB_OF_TASK = {
    "digest.fetch_day": "fetch",
    "digest.plan_deliveries": "plan",
    "digest.send_batch": "send",
}


def messages_count(counts: Mapping[str, int]) -> None:
    for outcome in MESSAGE_OUTCOMES:
        counter_add(
            "digest_messages",
            counts.get(outcome, 0),
            backend=settings.EMAIL_BACKEND,
            outcome=outcome,
        )


@task_failure.connect
def _task_failed(sender: Any = None, **_: object) -> None:
    name = getattr(sender, "name", None) or "unknown"
    counter_add("digest_task_failures", task=name)
    if name in JOB_OF_TASK:
        job_failed(job=JOB_OF_TASK[name])
