"""The Celery app's former home: `celery -A digest worker|beat` still finds it here.

Celery resolves `-A digest` to this module's `app` (see :mod:`config.celery`).
"""

from config.celery import app

__all__ = ["app"]
