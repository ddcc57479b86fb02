from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from digest.papers.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot

DAY = date(2026, 11, 24)  # a Tuesday


@pytest.fixture
def snapshot_day(db):
    """The bundled listing (57 real papers) loaded as listed on DAY."""
    papers_upsert(records=load_snapshot(listed_on=DAY).records, listed_on=DAY)
    return DAY


@dataclass(frozen=True)
class Received:
    peer: tuple[str, int]  # one per connection
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


class SMTPSink:
    """A real SMTP server's handler (aiosmtpd) that keeps what it accepts and counts MAIL and
    RSET commands. Addresses script its answers: refuse@ gets 553 at MAIL and 550 at RCPT;
    later@, bounce@ and close@ get 451, 554 and 421 after their DATA."""

    AFTER_DATA = {"later": "451 4.3.0 Try again later", "bounce": "554 5.6.0 Rejected",
                  "close": "421 4.3.2 Closing connection"}  # fmt: skip

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.mails = 0
        self.resets = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mails += 1
        if address.startswith("refuse@"):
            return "553 5.7.1 Sender not allowed"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_RSET(self, server, session, envelope):
        self.resets += 1
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        local = envelope.rcpt_tos[0].split("@")[0]
        if local in self.AFTER_DATA:
            return self.AFTER_DATA[local]
        self.received.append(
            Received(
                session.peer, envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content)
            )
        )
        return "250 OK"


@pytest.fixture
def smtp_sink():
    """(handler, port) of an SMTP server running in a thread of this process."""
    from aiosmtpd.controller import Controller

    from tests.support.real_services import free_port

    handler = SMTPSink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()
