"""The fast MIME writer gives the bytes Python's generator gives (header folding aside), and the
SMTP backend that uses it delivers what a mail client reads back."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from email.generator import BytesGenerator
from unittest import mock

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.composing.build import DayBuilder, digest_message
from digest.composing.mime import DigestMessage, message_bytes
from digest.delivery.mail_backends import _PLAIN_ADDRESS, SMTPBackend
from tests.support.factories import SubscriberFactory

_FOLD = re.compile(rb"\r\n(?=[ \t])")
_AFTER_NAME = re.compile(rb"^([!-9;-~]+): +", re.MULTILINE)
_LINE_END = re.compile(rb"[ \t]+\r\n")


def both(message: EmailMessage) -> tuple[bytes, bytes]:
    """(ours, the standard generator's) for one MIME tree, so that they share a boundary.
    Ours must not fall back on the standard generator for anything Django builds."""
    mime = message.message()
    with mock.patch.object(BytesGenerator, "flatten", side_effect=AssertionError("fell back")):
        ours = message_bytes(mime)
    return ours, mime.as_bytes(linesep="\r\n")  # type: ignore[call-arg]  # Django's MIME classes


def unfolded(data: bytes) -> bytes:
    """The message with its headers unfolded (RFC 5322 2.2.3), the blanks after each header
    name made one and blanks at line ends dropped (the standard generator drops them when it
    refolds a value Django folded): where the two writers fold differently is all that this
    leaves out."""
    return _LINE_END.sub(b"\r\n", _AFTER_NAME.sub(rb"\1: ", _FOLD.sub(b"", data)))


def test_a_real_digest_is_written_as_the_standard_generator_writes_it(snapshot_day, settings):
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@digest.example.org"
    subscriber = SubscriberFactory(email="reader@example.org")
    subscriber.topics.create(query="diffusion")
    builder = DayBuilder(snapshot_day)
    rendered = builder.render(builder.select(subscriber), delivery_id=3)
    message = digest_message(subscriber=subscriber, email=rendered, delivery_id=3, day=snapshot_day)
    ours, standard = both(message)
    assert unfolded(ours) == unfolded(standard)
    assert all(len(line) <= 998 for line in ours.split(b"\r\n"))
    head = ours.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert all(len(line) <= 78 or b" " not in line.strip() for line in head)
    parsed = email.message_from_bytes(ours, policy=email.policy.default)
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = parsed.get_body(("html",))
    assert html is not None and html.get_content().replace("\r\n", "\n") == rendered.html


def test_what_it_cannot_write_exactly_goes_to_the_standard_generator():
    from email.header import Header

    message = EmailMultiAlternatives("Hi", "text", "a@example.org", ["b@example.org"]).message()
    message["X-Raw"] = Header("Grüße", "utf-8")  # a Header object, not Django's encoded text
    assert message_bytes(message) == message.as_bytes(linesep="\r\n")


def test_a_boundary_is_chosen_once_and_kept():
    message = EmailMultiAlternatives("Hi", "text", "a@example.org", ["b@example.org"])
    message.attach_alternative("<p>html</p>", "text/html")
    mime = message.message()
    first = message_bytes(mime)
    assert mime.get_boundary() and mime.get_boundary().encode() in first
    assert message_bytes(mime) == first


@pytest.mark.parametrize(
    "subject, body, to",
    [
        ("Plain", "one line", "b@example.org"),
        ("Ünïcode and emoji 🚀 in the subject", "Grüße\r\nCRLF and\rlone CR", "b@example.org"),
        ("a " * 60, "--===============boundary-looking line==\nFrom the start", "b@example.org"),
        ("x" * 300, "long line " * 200, "Zoë Ädler <zoe@example.org>"),
        ("spaces   in    a   row " * 8, ".leading dot\n.\n", "b@exämple.org"),
    ],
)
def test_hostile_messages_match_the_standard_generator(subject, body, to):
    message = EmailMultiAlternatives(subject, body, "Digest <d@example.org>", [to])
    message.attach_alternative(f"<p>{body}</p>", "text/html")
    message.extra_headers["List-Id"] = "Paper Digest daily digest <digest.example.org>"
    ours, standard = both(message)
    assert unfolded(ours) == unfolded(standard)


# What str.splitlines() breaks at: email.header turns each into a fold of its own.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@settings(max_examples=200, deadline=None)
@given(
    subject=st.text(min_size=1, max_size=150).filter(lambda s: not set(s) & set(_LINE_BREAKS)),
    body=st.text(max_size=400),
)
def test_any_text_gives_the_standard_bytes(subject, body):
    message = EmailMultiAlternatives(subject, body, "d@example.org", ["b@example.org"])
    message.attach_alternative(body, "text/html")
    ours, standard = both(message)
    assert unfolded(ours) == unfolded(standard)


@pytest.mark.parametrize("separator", sorted(set(_LINE_BREAKS) - {"\n", "\r"}))
def test_a_subject_with_another_line_separator_gets_the_standard_bytes(separator):
    # Django lets these through and email.header folds at them, in a way the fast writer does
    # not copy: it hands the message to the standard generator.
    message = EmailMultiAlternatives(f"0{separator}0", "text", "d@example.org", ["b@example.org"])
    message.attach_alternative("<p>html</p>", "text/html")
    mime = message.message()
    assert message_bytes(mime) == mime.as_bytes(linesep="\r\n")


def test_the_smtp_backend_delivers_the_message_over_smtp(snapshot_day, smtp_sink):
    handler, port = smtp_sink
    subscriber = SubscriberFactory(email="reader@example.org")
    builder = DayBuilder(snapshot_day)
    rendered = builder.render(builder.select(subscriber), delivery_id=9)
    message = digest_message(subscriber=subscriber, email=rendered, delivery_id=9, day=snapshot_day)
    assert SMTPBackend(host="127.0.0.1", port=port, timeout=10).send_messages([message]) == 1
    [raw] = [m.content for m in handler.received]
    received = email.message_from_bytes(raw, policy=email.policy.default)
    assert received["To"] == "reader@example.org"
    assert received["Subject"] == rendered.subject
    text = received.get_body(("plain",))
    assert text is not None and text.get_content().replace("\r\n", "\n") == rendered.text
    message.to = ["refuse@example.org"]
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        SMTPBackend(host="127.0.0.1", port=port, timeout=10).send_messages([message])


FIXED_HEADERS = {
    "Date": "Tue, 24 Nov 2026 06:00:00 -0000",
    "Message-ID": "<digest.20261124.1@example.org>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


# Digest-shaped messages: (subject, body, html, to).
DIGEST_CASES = [
    ("5 new papers on diffusion", "plain ASCII\n", "<p>ASCII</p>", "b@example.org"),
    ("Ünïcode 🚀", "Grüße\r\nCRLF\rCR\u2028LS", "<p>…</p>\n" * 50, "Zoë <zoe@example.org>"),
    ("a " * 60, "x" * 2000, "<p>" + "y" * 3000 + "</p>", "b@example.org"),  # QP parts
    ("Empty HTML", "text", "", "b@exämple.org"),
]
DIGEST_TEXTS = {
    "subject": st.text(min_size=1, max_size=100).filter(lambda s: "\n" not in s and "\r" not in s),
    "body": st.text(min_size=1, max_size=300),
    "html": st.text(max_size=300),
}


def digest_and_django(subject: str, body: str, html: str, to: str = "b@example.org"):
    """The same message as a DigestMessage and as Django's own EmailMultiAlternatives."""
    made = []
    for cls in (DigestMessage, EmailMultiAlternatives):
        message = cls(subject, body, "Paper Digest <d@example.org>", [to], headers=FIXED_HEADERS)
        message.attach_alternative(html, "text/html")
        mime = message.message()
        mime.set_boundary("===============1234567890==")
        made.append(mime.as_bytes(linesep="\r\n"))  # type: ignore[call-arg]
    return made


@pytest.mark.parametrize(
    "subject, body, html, to",
    DIGEST_CASES,
)
def test_the_digest_message_builds_the_tree_django_builds(subject, body, html, to):
    for _ in range(2):  # the second time with the Subject's encoding remembered
        ours, django = digest_and_django(subject, body, html, to)
        assert ours == django


def written_and_flattened(subject: str, body: str, html: str, to: str, linesep: str):
    """A DigestMessage's as_bytes() and the bytes of its tree, with the same boundary."""
    message = DigestMessage(
        subject, body, "Paper Digest <d@example.org>", [to], headers=FIXED_HEADERS
    )
    message.attach_alternative(html, "text/html")
    with mock.patch("digest.composing.mime.secrets.token_hex", return_value="0123456789abcdef"):
        written = message.as_bytes(linesep=linesep)
        flattened = message_bytes(message.message(), linesep=linesep)
    return written, flattened


@pytest.mark.parametrize("linesep", ["\r\n", "\n"])
@pytest.mark.parametrize(
    "subject, body, html, to",
    DIGEST_CASES,
)
def test_the_digest_message_writes_the_bytes_of_its_tree(subject, body, html, to, linesep):
    written, flattened = written_and_flattened(subject, body, html, to, linesep)
    assert written == flattened


@settings(max_examples=200, deadline=None)
@given(**DIGEST_TEXTS)
def test_any_digest_message_writes_the_bytes_of_its_tree(subject, body, html):
    written, flattened = written_and_flattened(subject, body, html, "b@example.org", "\r\n")
    assert written == flattened


def test_a_to_header_of_its_own_is_kept_as_django_keeps_it():
    made = []
    for cls in (DigestMessage, EmailMultiAlternatives):
        message = cls(
            "s", "b", "d@example.org", ["b@example.org"], headers={"To": "Team <t@e.org>"}
        )
        message.attach_alternative("<p>h</p>", "text/html")
        made.append(message.message()["To"])
    assert made == ["Team <t@e.org>", "Team <t@e.org>"]


@settings(max_examples=200, deadline=None)
@given(**DIGEST_TEXTS)
def test_any_digest_message_is_the_tree_django_builds(subject, body, html):
    ours, django = digest_and_django(subject, body, html)
    assert ours == django


@settings(max_examples=300, deadline=None)
@given(address=st.from_regex(_PLAIN_ADDRESS, fullmatch=True))
def test_a_bare_address_the_smtp_backend_takes_as_is_is_what_django_would_send(address):
    from django.core.mail.message import sanitize_address

    assert sanitize_address(address, "utf-8") == address
