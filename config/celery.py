"""The Celery app and the beat schedule.

`celery -A config worker` consumes every queue the project uses; `celery -A config beat` runs the
schedule (exactly one beat). Without CELERY_BROKER_URL tasks run in-process (settings).
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("digest")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule(sender: Celery, **_: object) -> None:
    from django.conf import settings

    sender.conf.beat_schedule = {
        "fetch-daily": {
            "task": "digest.fetch_day",
            "schedule": settings.BEAT_FETCH_EVERY_SECONDS
            or crontab(minute=0, hour=settings.FETCH_HOUR_UTC),
        },
        "plan-hourly": {
            "task": "digest.plan_deliveries",
            "schedule": settings.BEAT_PLAN_EVERY_SECONDS or crontab(minute=5),
        },
        # Upvotes keep rising after a paper is listed, and the trending order follows them.
        "refresh-trending": {
            "task": "digest.refresh_trending",
            "schedule": crontab(minute=30, hour=settings.TRENDING_REFRESH_HOURS_UTC),
        },
        # Followed papers: a share each hour, each paper once a day (digest/following/refresh.py).
        "refresh-followed": {
            "task": "digest.refresh_followed",
            "schedule": crontab(minute=20),
        },
        "check-health": {
            "task": "digest.check_health",
            "schedule": crontab(minute=45),
        },
        "purge-unconfirmed": {
            "task": "subscriptions.purge_unconfirmed",
            "schedule": crontab(minute=15, hour=3),
        },
    }
