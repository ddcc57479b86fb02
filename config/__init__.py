"""The Django project: settings, root URLs, the WSGI application and the Celery app.

Importing the package loads the Celery app, so that `@shared_task`s bind to it in every process
Django starts (web, worker, commands).
"""

from config.celery import app as celery_app

__all__ = ["celery_app"]
