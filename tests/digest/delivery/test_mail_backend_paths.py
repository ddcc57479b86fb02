"""`EMAIL_BACKEND` values operators already use keep working after the backends moved."""

import pytest
from django.core.mail import get_connection

from digest.delivery.mail_backends import OutboxEmailBackend, SMTPBackend


@pytest.mark.parametrize(
    ("dotted_path", "backend"),
    [
        ("digest.mail_backends.SMTPBackend", SMTPBackend),
        ("digest.mail_backends.OutboxEmailBackend", OutboxEmailBackend),
        ("digest.delivery.mail_backends.SMTPBackend", SMTPBackend),
    ],
)
def test_old_and_new_dotted_paths_give_the_same_backend(dotted_path, backend, tmp_path):
    connection = get_connection(dotted_path, file_path=str(tmp_path))
    # The same class, not a copy: the sender's split SMTP send checks for it by type.
    assert type(connection) is backend
