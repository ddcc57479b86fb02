"""Thin Celery tasks: take plain values, call one service, return.

Each group keeps its own tasks (:mod:`subscriptions.readers.tasks`,
:mod:`subscriptions.feedback.tasks`, :mod:`subscriptions.library.tasks`); this module, the one
Celery's autodiscovery imports, gathers
them. Task names are fixed strings: queued messages name them, so a move never strands one.
"""

from subscriptions.feedback.tasks import enqueue_follow_link, send_follow_link
from subscriptions.library.tasks import enqueue_library_import, import_library
from subscriptions.readers.tasks import enqueue_signup_email, purge_unconfirmed, send_signup_email

__all__ = [
    "enqueue_follow_link",
    "enqueue_library_import",
    "enqueue_signup_email",
    "import_library",
    "purge_unconfirmed",
    "send_follow_link",
    "send_signup_email",
]
