"""The confirmation of a booking written to Microsoft 365 (C43): Graph invites the attendee
itself, so our email to aiosmtpd carries the manage link and no iCalendar `REQUEST`."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from tests.fakes.microsoft import FakeMicrosoft
from tests.helpers import microsoft_app
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.emails import assert_no_invitation
from tests.helpers.emails import confirmation_after_write
from tests.helpers.emails import manage_link
from tests.helpers.emails import open_manage_link
from tests.helpers.emails import pages_served
from tests.helpers.graphql import GraphQLClient
from tests.helpers.microsoft_app import consent_and_return
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday
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
        confirmed = await confirmation_after_write(app, sessionmaker, inbox)
    assert confirmed["Subject"] == "Confirmed: Intro: Cleo Contact"
    assert booked["manageToken"] in manage_link(confirmed)
    with pages_served(app) as base:
        page = await open_manage_link(base, manage_link(confirmed))
    assert (page.status_code, "Intro: Cleo Contact" in page.text) == (200, True)
    assert_no_invitation(confirmed)  # Graph sends the invitation (attendees)
    invited = [e.attendees for e in fake.events.values() if e.attendees]
    assert [[a["emailAddress"]["address"] for a in found] for found in invited] == [
        ["cleo@example.test"]
    ]
