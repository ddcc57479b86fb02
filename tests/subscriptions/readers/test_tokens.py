"""Signed links keep working across releases: their salts never follow the code around."""

import pytest
from django.conf import settings
from django.core import signing

from subscriptions.readers.tokens import Purpose, read_token
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_a_link_signed_before_the_code_moved_still_reads():
    # What an unsubscribe, vote or follow link in an email sent by an earlier release carries:
    # the salt names the module where tokens were first made (subscriptions/tokens.py).
    reader = SubscriberFactory()
    for purpose in (Purpose.UNSUBSCRIBE, Purpose.FEEDBACK, Purpose.FOLLOW):
        old = signing.TimestampSigner(
            key=settings.SECRET_KEY, salt=f"subscriptions.tokens.{purpose.value}"
        ).sign_object([reader.pk, reader.token_version], compress=False)
        assert read_token(old, purpose) == (reader, None)
