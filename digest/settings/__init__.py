"""The settings' former home: an operator's `DJANGO_SETTINGS_MODULE=digest.settings` still works.

The settings live in :mod:`config.settings`.
"""

from config.settings import *  # noqa: F403
