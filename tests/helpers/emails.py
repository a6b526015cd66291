"""Booking emails in tests (C21): the outbox rows that send them, each sent to the aiosmtpd
inbox of `tests.helpers.smtp`, and the messages parsed back: text, HTML, the iCalendar
object (with `icalendar`) and the manage link, which `open_manage_link` opens over real HTTP
on a second instance of the app served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx
import icalendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.jobs.outbox import Outbox
from slotgraph.jobs.outbox import Outcome
from slotgraph.models import OutboxMessage
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from slotgraph.server.app import create_app
from tests.helpers.jobs import make_outbox
from tests.helpers.live import serve_in_thread
from tests.helpers.smtp import Inbox

# A contact's manage link, as the emails write it (C41).
MANAGE_PATH = "/meetings/manage?"


async def booking_emails(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    """The BOOKING_EMAIL outbox rows, oldest first."""
    async with sessionmaker() as session:
        found = await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.BOOKING_EMAIL)
            .order_by(OutboxMessage.id)
        )
        return list(found.scalars())


async def send_pending(outbox: Outbox, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Send every pending booking email, each of which must go out."""
    for row in await booking_emails(sessionmaker):
        if row.state is OutboxState.PENDING:
            assert await outbox.deliver(row.id) == Outcome(OutboxState.DONE)


async def calendar_create(sessionmaker: async_sessionmaker[AsyncSession]) -> OutboxMessage:
    """The one CALENDAR_CREATE outbox row: the provider's write of the booking."""
    async with sessionmaker() as session:
        found = await session.execute(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.CALENDAR_CREATE)
        )
        return found.scalar_one()


async def confirmation_after_write(
    app: Starlette, sessionmaker: async_sessionmaker[AsyncSession], inbox: Inbox
) -> EmailMessage:
    """The calendar write delivered first (the confirmation waits for its outcome, C43),
    then every pending email sent: the one message the inbox then holds."""
    outbox = make_outbox(app, mailer=inbox.mailer())
    create = await calendar_create(sessionmaker)
    assert (await outbox.deliver(create.id)).state is OutboxState.DONE
    await send_pending(outbox, sessionmaker)
    (confirmed,) = inbox.messages
    return confirmed


def assert_no_invitation(message: EmailMessage) -> None:
    """The provider sends the invitation (C43): our email carries no iCalendar at all."""
    assert calendar_of(message) is None
    assert not any(part.get_filename() for part in message.walk())


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def calendar_of(message: EmailMessage) -> icalendar.Calendar | None:
    """The text/calendar alternative, parsed; None when the message carries none."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            calendar = icalendar.Calendar.from_ical(data)
            assert part.get_param("method") == str(calendar["METHOD"])
            return calendar
    return None


def manage_link(message: EmailMessage) -> str:
    """The one manage link of the plain-text part; the HTML part links the same URL."""
    (line,) = [line for line in text_of(message).splitlines() if MANAGE_PATH in line]
    link = line[line.index("http") :].strip()
    assert f'href="{link.replace("&", "&amp;")}"' in html_of(message)
    return link


@contextmanager
def pages_served(app: Starlette) -> Iterator[str]:
    """The base URL of another instance of `app` (same settings, same database) served by
    uvicorn on loopback: the contact's browser reaching the pages over real HTTP."""
    settings = app.state.runtime.settings
    served = create_app(settings.model_copy(update={"db_pool_size": 2}), settings.database_url)
    with serve_in_thread(served) as base:
        yield base


async def open_manage_link(base: str, link: str) -> httpx.Response:
    """GET the manage link's path and query from the pages at `base` (the link names the
    public base URL, which the tests do not resolve)."""
    parts = urlsplit(link)
    async with httpx.AsyncClient(trust_env=False) as browser:
        return await browser.get(f"{base}{parts.path}?{parts.query}")
