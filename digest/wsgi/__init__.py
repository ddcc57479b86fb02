"""The WSGI application's former home: `gunicorn digest.wsgi` still works.

The application is :mod:`config.wsgi`'s.
"""

from config.wsgi import application

__all__ = ["application"]
