"""Emails (kind EMAIL): today the S13 lost-access email, "a contact tried to book", which the
booking use case posts at most once per host, page and day (C13). The payload carries the
finished message (`to`, `subject`, `body`); it goes out by SMTP (`slotgraph.jobs.mail`).

A server without SMTP configured fails the row at once (retrying cannot help), as does a
message the mail server refuses; an unreachable server or a 4xx is retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from slotgraph.jobs.mail import MailError, MailRejected
from slotgraph.jobs.outbox import Delivery, DeliveryFailure
from slotgraph.models.outbox import OutboxKind

if TYPE_CHECKING:
    from slotgraph.jobs.mail import Mailer
    from slotgraph.models import OutboxMessage

NO_MAIL = "No mail server is configured (SLOTGRAPH_SMTP_HOST); the email was not sent."


class Emails(Delivery):
    """Sends the message in the row's payload; `mailer` None: no SMTP configured."""

    kinds: ClassVar[frozenset[OutboxKind]] = frozenset({OutboxKind.EMAIL})

    def __init__(self, mailer: Mailer | None) -> None:
        self.mailer = mailer

    async def deliver(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        if self.mailer is None:
            raise DeliveryFailure(NO_MAIL, permanent=True)
        payload = message.payload
        try:
            await self.mailer.send(payload["to"], payload["subject"], payload["body"])
        except MailError as error:
            rejected = isinstance(error, MailRejected)
            raise DeliveryFailure(error.message, permanent=rejected) from None
        return None
