"""The pipeline: papers in, emails out.

The project itself (settings, root URLs, WSGI, the Celery app) is :mod:`config`. The old dotted
paths operators' files name keep working: ``digest.settings``, ``digest.wsgi`` and
``celery -A digest`` (Celery finds the app in :mod:`digest.celery`).
"""
