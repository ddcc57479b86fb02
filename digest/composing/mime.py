"""The digest's MIME message, built and written to bytes fast.

A day's send makes one 27 KB message per reader. Python's email generator spends over a
millisecond on one: every header goes through `email.header` folding, a missing multipart
boundary is chosen by scanning the whole body with a regex, and the body is written line by
line. So the SMTP backend (`digest.delivery.mail_backends.SMTPBackend`) and the outbox use
`message_bytes`: the same bytes as `as_bytes()` for what Django builds (ASCII header values,
which Django has already RFC 2047-encoded, text parts as Django encoded them), folded at spaces,
and the standard generator for anything else. `DigestMessage` builds the two text parts itself,
for the same reason (Django's check of every line and its re-parsing of each part's
Content-Type took another half millisecond), and for the digest's shape its `as_bytes()` writes
those same bytes straight from its fields, without a tree.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.utils import formatdate, make_msgid
from functools import lru_cache
from typing import Any

from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail.message import (
    RFC5322_EMAIL_LINE_LENGTH_LIMIT,
    SafeMIMEMultipart,
    forbid_multi_line_headers,
)
from django.core.mail.utils import DNS_NAME

# RFC 5322 2.1.1: lines SHOULD be at most 78 characters and MUST be at most 998.
_FOLD_AT = 78
_LINE_LIMIT = 998


class _Unsupported(Exception):
    """Something the fast path does not write exactly as the standard generator would."""


def message_bytes(message: Message, *, linesep: str = "\r\n") -> bytes:
    """`message.as_bytes(linesep=linesep)`, without Python's generator when it is not needed."""
    try:
        return _flatten(message, linesep).encode("ascii", "surrogateescape")
    except (_Unsupported, UnicodeEncodeError):
        return message.as_bytes(linesep=linesep)  # type: ignore[call-arg]  # Django's MIME classes take it


def _flatten(message: Message, nl: str) -> str:
    if message.is_multipart():
        boundary = message.get_boundary()
        if not boundary:
            boundary = _new_boundary()
            message.set_boundary(boundary)
        parts = [_flatten(part, nl) for part in message.get_payload()]  # type: ignore[arg-type]
        body = f"--{boundary}{nl}" + f"{nl}--{boundary}{nl}".join(parts)
        body += f"{nl}--{boundary}--{nl}"
        if message.preamble is not None:
            body = _newlines(message.preamble, nl) + nl + body
        if message.epilogue is not None:
            body += _newlines(message.epilogue, nl)
    else:
        # As the generator does: the payload as stored (8-bit text stays surrogate-escaped
        # bytes); get_payload() would decode it.
        payload = message._payload  # type: ignore[attr-defined]
        if payload is None:
            payload = ""
        if not isinstance(payload, str):
            raise _Unsupported
        body = _newlines(payload, nl)
    return _headers(message.raw_items(), nl) + nl + body


def _newlines(text: str, nl: str) -> str:
    """Every line break (CRLF, CR or LF) as `nl`, as the generator writes them."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", nl) if nl != "\n" else text


def _header(name: str, value: object, nl: str) -> str:
    if not isinstance(value, str) or not value.isascii() or "\r" in value:
        raise _Unsupported  # a Header object or raw non-ASCII text: leave it be
    line = f"{name}: {value}"
    if "\n" in value:
        # Already folded (Django folds the Subject with email.header): keep its folds.
        lines = line.split("\n")
        if any(not part[:1].isspace() or len(part) > _LINE_LIMIT for part in lines[1:]):
            raise _Unsupported
        return nl.join(lines) + nl
    lines = []
    start = len(name) + 1  # the first place to break is the blank after the colon
    while len(line) > _FOLD_AT:
        cut = line.rfind(" ", start, _FOLD_AT)
        if cut == -1:
            cut = line.find(" ", max(start, _FOLD_AT))  # a long word: break after it
        if cut == -1:
            break
        if not line[:cut].strip():
            raise _Unsupported  # a run of spaces; unfolding must give back the same value
        lines.append(line[:cut])
        line = line[cut:]
        start = 1
    lines.append(line)
    if any(len(part) > _LINE_LIMIT for part in lines):
        raise _Unsupported
    return nl.join(lines) + nl


class DigestMessage(AnymailMessage):
    """An AnymailMessage whose MIME tree (for SMTP and the outbox; provider APIs read the fields
    instead) is built without Django's per-part overhead when it has the digest's shape: a UTF-8
    text body, one HTML alternative, no attachments, no Cc or Reply-To. `as_bytes()` writes
    that shape's bytes without building the tree at all."""

    def message(self) -> SafeMIMEMultipart:
        parts = self._parts()
        if parts is None:
            return super().message()
        msg = SafeMIMEMultipart(_subtype=self.alternative_subtype, encoding="utf-8")
        for subtype, data in parts:
            msg.attach(_text_part(data, subtype))
        for name, value in self._header_items():
            MIMEMultipart.__setitem__(msg, name, value)  # checked as Django checks them
        return msg

    def as_bytes(self, *, linesep: str = "\r\n") -> bytes:
        """`message_bytes(self.message())`: the tree's two 20 KB text parts, held as
        surrogate-escaped text for the generator, cost a tenth of a millisecond to build and
        another to write back."""
        parts = self._parts()
        if parts is not None:
            with contextlib.suppress(_Unsupported):
                return self._write(parts, linesep)
        return message_bytes(self.message(), linesep=linesep)

    def _parts(self) -> list[tuple[str, bytes]] | None:
        """The text and HTML parts' UTF-8 bytes, or None when the message is not the digest's
        shape or a line needs quoted-printable (over 998 bytes): Django's own code then."""
        simple = (
            (self.encoding or settings.DEFAULT_CHARSET) == "utf-8"
            and self.content_subtype == "plain"
            and self.body
            and self.to
            and not self.attachments
            and not self.cc
            and not self.reply_to
            and [mimetype for _, mimetype in self.alternatives] == ["text/html"]
        )
        if not simple:
            return None
        parts = [
            ("plain", self.body.encode("utf-8", "surrogateescape")),
            ("html", str(self.alternatives[0].content).encode("utf-8", "surrogateescape")),
        ]
        for _, data in parts:
            if max(map(len, data.splitlines()), default=0) > RFC5322_EMAIL_LINE_LENGTH_LIMIT:
                return None
        return parts

    def _header_items(self) -> list[tuple[str, str]]:
        """The headers as Django's EmailMessage.message() sets them, in the same order, each
        value as its check leaves it."""
        items = [("Subject", _encoded_subject(str(self.subject), "utf-8"))]
        values = [
            ("From", self.extra_headers.get("From", self.from_email)),
            ("To", self.extra_headers.get("To", ", ".join(str(address) for address in self.to))),
        ]
        names = {name.lower() for name in self.extra_headers}
        if "date" not in names:
            values.append(("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
        if "message-id" not in names:
            values.append(("Message-ID", make_msgid(domain=DNS_NAME)))
        values += [
            (name, value)
            for name, value in self.extra_headers.items()
            if name.lower() not in {"from", "to", "cc", "reply-to"}
        ]
        items += [forbid_multi_line_headers(name, value, "utf-8") for name, value in values]
        return items

    def _write(self, parts: list[tuple[str, bytes]], nl: str) -> bytes:
        # What _flatten() writes for the tree message() builds, from the bytes themselves.
        boundary = _new_boundary()
        content_type = f'multipart/{self.alternative_subtype}; boundary="{boundary}"'
        head = [("Content-Type", content_type), ("MIME-Version", "1.0"), *self._header_items()]
        out: list[str | bytes] = [_headers(head, nl) + nl]
        for subtype, data in parts:
            out += [f"--{boundary}{nl}" + _headers(_part_headers(subtype, data), nl) + nl, data, nl]
        out.append(f"--{boundary}--{nl}")
        line_end = nl.encode()
        return b"".join(
            _newline_bytes(chunk, line_end) if isinstance(chunk, bytes) else chunk.encode("ascii")
            for chunk in out
        )


def _new_boundary() -> str:
    # 128 random bits: no line of a body built before it was drawn can equal it, which is what
    # the standard generator checks by scanning the body.
    return f"==============={secrets.token_hex(16)}=="


def _headers(items: Iterable[tuple[str, Any]], nl: str) -> str:
    return "".join(_header(name, value, nl) for name, value in items)


def _newline_bytes(data: bytes, line_end: bytes) -> bytes:
    """_newlines() on UTF-8 bytes (no multi-byte sequence contains CR or LF)."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data.replace(b"\n", line_end) if line_end != b"\n" else data


def _part_headers(subtype: str, data: bytes) -> list[tuple[str, str]]:
    """A text/<subtype> UTF-8 part's headers as Django's SafeMIMEText gives them (8bit, or
    7bit when ASCII)."""
    return [
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("MIME-Version", "1.0"),
        ("Content-Transfer-Encoding", "7bit" if data.isascii() else "8bit"),
    ]


@lru_cache(maxsize=1024)
def _encoded_subject(subject: str, encoding: str) -> str:
    """The Subject as Django sets it (its newline check, then email.header's RFC 2047 encoding
    and folding), once per distinct subject: readers of a day share a few hundred, and encoding
    one with a non-ASCII character costs a quarter of a millisecond."""
    return str(forbid_multi_line_headers("Subject", subject, encoding)[1])


def _text_part(data: bytes, subtype: str) -> Message:
    part = Message()
    for name, value in _part_headers(subtype, data):
        part[name] = value
    # Stored as the generator expects 8-bit text: the UTF-8 bytes, surrogate-escaped.
    part.set_payload(data.decode("ascii", "surrogateescape"))
    return part
