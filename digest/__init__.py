"""The Django project package and the pipeline: papers in, emails out."""

from digest.celery import app as celery_app

__all__ = ["celery_app"]
