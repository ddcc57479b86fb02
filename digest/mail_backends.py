"""Where `EMAIL_BACKEND` pointed before the backends moved to :mod:`digest.delivery.mail_backends`.

Operators' environments name `digest.mail_backends.SMTPBackend` (and the outbox backend) by dotted
path, so the names stay importable from here.
"""

from digest.delivery.mail_backends import OutboxEmailBackend, SMTPBackend

__all__ = ["OutboxEmailBackend", "SMTPBackend"]
