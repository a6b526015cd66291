"""The confirmation of a booking written to CalDAV (C43, C44): the adapter writes the event
with SCHEDULE-AGENT=CLIENT, so the server invites nobody and our email to aiosmtpd carries
the invitation (`REQUEST`, parsed back with `icalendar`) beside the manage link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.models import Booking
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.caldav import CalendarApp
from tests.helpers.caldav import fresh_account
from tests.helpers.caldav_hosts import caldav_host
from tests.helpers.caldav_servers import DavProxy
from tests.helpers.caldav_servers import Server
from tests.helpers.emails import calendar_of
from tests.helpers.emails import confirmation_after_write
from tests.helpers.emails import manage_link
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday
from tests.helpers.smtp import smtp_server


@pytest.fixture
def calendar(radicale_server: Server) -> Iterator[tuple[int, CalendarApp]]:
    with fresh_account(radicale_server) as account:
        yield account


async def test_a_caldav_booking_gets_our_request_invitation(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    radicale_server: Server,
    radicale_proxy: DavProxy,
    calendar: tuple[int, CalendarApp],
) -> None:
    n, _ = calendar
    ada = await caldav_host(gql, factory, radicale_server, radicale_proxy, n)
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    booked = await book_with_token(gql, slug, nine, language="en")
    assert booked["booking"]["status"] == "CONFIRMED"
    with smtp_server() as inbox:
        confirmed = await confirmation_after_write(app, sessionmaker, inbox)
    assert confirmed["Subject"] == "Confirmed: Intro: Cleo Contact"
    assert booked["manageToken"] in manage_link(confirmed)
    calendar_part = calendar_of(confirmed)
    assert calendar_part is not None
    (event,) = calendar_part.walk("VEVENT")
    async with sessionmaker() as session:
        booking = (await session.execute(select(Booking))).scalar_one()
    assert (str(calendar_part["METHOD"]), str(event["UID"]), int(str(event["SEQUENCE"]))) == (
        "REQUEST",
        booking.ical_uid,
        0,
    )
    assert event.decoded("DTSTART") == nine
    assert [p.get_filename() for p in confirmed.walk() if p.get_filename()] == ["invite.ics"]
