"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and can refuse
recipients at RCPT with a chosen reply (a permanent 550, a temporary 451)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from slotgraph.jobs.mail import Mailer
from slotgraph.jobs.mail import SmtpConfig
from slotgraph.jobs.mail import SmtpSecurity

SENDER = "Slotgraph <no-reply@slotgraph.test>"


class Inbox:
    """An aiosmtpd handler keeping what it receives; `refuse_rcpt`: the reply to every RCPT
    (None: accepted)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse_rcpt: str | None = None
        self.port = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse_rcpt is not None:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def mailer(self) -> Mailer:
        """A mailer sending to this server."""
        config = SmtpConfig("127.0.0.1", self.port, SENDER, security=SmtpSecurity.NONE)
        return Mailer(config)


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    """An Inbox listening on a free loopback port until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    inbox.port = port
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
