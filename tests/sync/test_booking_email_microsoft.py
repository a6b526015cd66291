"""The confirmation of a booking written to Microsoft 365 (C43): Graph invites the attendee
itself, so our email to aiosmtpd carries the manage link and no iCalendar `REQUEST`."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from slotgraph.models import OutboxMessage
from slotgraph.models.outbox import OutboxKind, OutboxState
from tests.fakes.microsoft import FakeMicrosoft
from tests.helpers import microsoft_app
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.emails import calendar_of, manage_link, send_pending
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import make_outbox
from tests.helpers.microsoft_app import consent_and_return
from tests.helpers.pages import make_page, next_monday
from tests.helpers.smtp import smtp_server

fake = microsoft_app.fake
_fresh_fake = microsoft_app._fresh_fake
ca_file = microsoft_app.ca_file
app = microsoft_app.app
browser = microsoft_app.browser


async def test_a_microsoft_booking_is_confirmed_without_our_request(
    gql: GraphQLClient,
    factory: Factory,
    fake: FakeMicrosoft,
    app: Starlette,
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada = await factory.person(url_prefix="ada", name="Ada")
    assert (await consent_and_return(gql, ada, browser, client))["status"] == "CONNECTED"
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    booked = await book_with_token(gql, slug, nine, language="en")
    assert booked["booking"]["status"] == "CONFIRMED"
    with smtp_server() as inbox:
        outbox = make_outbox(app, mailer=inbox.mailer())
        async with sessionmaker() as session:
            create = (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.CALENDAR_CREATE)
                )
            ).scalar_one()
        assert (await outbox.deliver(create.id)).state is OutboxState.DONE
        await send_pending(outbox, sessionmaker)
        (confirmed,) = inbox.messages
    assert confirmed["Subject"] == "Confirmed: Intro: Cleo Contact"
    assert booked["manageToken"] in manage_link(confirmed)
    assert calendar_of(confirmed) is None  # Graph sends the invitation (attendees)
    assert not any(part.get_filename() for part in confirmed.walk())
    invited = [e.attendees for e in fake.events.values() if e.attendees]
    assert [[a["emailAddress"]["address"] for a in found] for found in invited] == [
        ["cleo@example.test"]
    ]
