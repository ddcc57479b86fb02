"""The laptop's email backend: one .eml per message, plus an .html preview beside it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django.utils.crypto import get_random_string


class OutboxEmailBackend(BaseEmailBackend):
    """Writes each message to EMAIL_FILE_PATH as `<time>-<recipient>-<n>.eml` (+ `.html`)."""

    def __init__(self, *, file_path: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            stem = self._stem(message)
            # Unix line ends: the files are for reading in an editor or a mail client.
            # (Django's MIME classes take `linesep`; the stdlib stubs don't know it.)
            data = message.message().as_bytes(linesep="\n")  # type: ignore[call-arg]
            (self.directory / f"{stem}.eml").write_bytes(data)
            html = _html_alternative(message)
            if html is not None:
                (self.directory / f"{stem}.html").write_text(html, encoding="utf-8")
            sent += 1
        return sent

    @staticmethod
    def _stem(message: EmailMessage) -> str:
        recipient = re.sub(r"[^A-Za-z0-9@._-]", "_", message.to[0] if message.to else "message")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{recipient}-{get_random_string(6).lower()}"


def _html_alternative(message: EmailMessage) -> str | None:
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            return str(content)
    return None
