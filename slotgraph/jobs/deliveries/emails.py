"""Emails (kind EMAIL): today the S13 lost-access email, "a contact tried to book", which the
booking use case posts (`post_lost_access_email`) at most once per host, page and day (C13).
The payload carries the finished message (`to`, `subject`, `body`); it goes out by SMTP
(`slotgraph.jobs.mail`).

A server without SMTP configured fails the row at once (retrying cannot help), as does a
message the mail server refuses; an unreachable server or a 4xx is retried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from sqlalchemy.dialects.postgresql import insert

from slotgraph.jobs.mail import MailError
from slotgraph.jobs.mail import MailRejected
from slotgraph.jobs.outbox import Delivery
from slotgraph.jobs.outbox import DeliveryFailure
from slotgraph.jobs.outbox import post
from slotgraph.models import LostAccessNotice
from slotgraph.models import OutboxMessage
from slotgraph.models.outbox import OutboxKind

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.jobs.mail import Mailer
    from slotgraph.models import User

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


async def post_lost_access_email(
    session: AsyncSession, host: User, page_id: int, page_title: str, now: dt.datetime
) -> bool:
    """S13/C13: tell the host a contact tried to book `page_title`, at most once per host,
    page and day (`now`'s UTC day) however often contacts try: the day's notice row is
    claimed in the caller's transaction, and only its first claimer posts. Whether this
    call posted."""
    day = dt.datetime.combine(now.date(), dt.time(), dt.UTC)
    claimed = await session.execute(
        insert(LostAccessNotice)
        .values(host_user_id=host.id, page_id=page_id, day=day)
        .on_conflict_do_nothing()
        .returning(LostAccessNotice.page_id)
    )
    if claimed.first() is None:
        return False
    message = OutboxMessage(
        account_id=host.account_id,
        kind=OutboxKind.EMAIL,
        payload=_lost_access_email(host, page_title),
    )
    await post(session, message)
    return True


def _lost_access_email(host: User, page_title: str) -> dict[str, Any]:
    return {
        "to": host.email,
        "subject": f"A contact tried to book '{page_title}'",
        "body": (
            f"Hi {host.name},\n\nA contact tried to book a meeting on your scheduling page "
            f"'{page_title}', but Slotgraph has lost access to one of your calendars, so no "
            "time could be offered.\n\nTo fix it, reconnect the calendar, or remove it from "
            "your availability calendars (the X beside it) in your calendar settings.\n"
        ),
    }
