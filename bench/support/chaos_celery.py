"""The project's Celery app with remote control off, for `bench/chaos.py --safe-worker`: with
--without-gossip, the settings that avoid kombu 5.7's worker death on a Redis restart."""

from config.celery import app

app.conf.worker_enable_remote_control = False

__all__ = ["app"]
