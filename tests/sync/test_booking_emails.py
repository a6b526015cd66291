"""Booking emails (C21, C43, C19) from the outbox to a real SMTP server on loopback
(aiosmtpd), each parsed back with the `email` package and its iCalendar with `icalendar`:
the contact's language, the manage link that opens the manage page, one invitation per
meeting (ours only when no provider sends one), and retries: a 451 at RCPT is retried, a
550 is not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.jobs.deliveries.booking_events import event_key
from slotgraph.jobs.outbox import Outcome
from slotgraph.models import Booking
from slotgraph.models import OutboxMessage
from slotgraph.models import SchedulingPage
from slotgraph.models import User
from slotgraph.models.outbox import OutboxState
from slotgraph.providers.google import event_id_for
from slotgraph.web.locale import translations as pages_translations
from tests.helpers import google_app
from tests.helpers.accounts import Factory
from tests.helpers.bookings import CANCEL_AS_CONTACT
from tests.helpers.bookings import RESCHEDULE_AS_CONTACT
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.bookings import run
from tests.helpers.emails import assert_no_invitation
from tests.helpers.emails import booking_emails
from tests.helpers.emails import calendar_create
from tests.helpers.emails import calendar_of
from tests.helpers.emails import html_of
from tests.helpers.emails import manage_link
from tests.helpers.emails import open_manage_link
from tests.helpers.emails import pages_served
from tests.helpers.emails import send_pending
from tests.helpers.emails import text_of
from tests.helpers.google_app import GoogleFlow
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import make_due
from tests.helpers.jobs import make_outbox
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday
from tests.helpers.smtp import Inbox
from tests.helpers.smtp import smtp_server

# The Google-configured app of the consent tests, for the calendar-connected booking.
app = google_app.app
browser = google_app.browser
flow = google_app.flow

CONFIRM = """
mutation Confirm($input: ConfirmBookingInput!) {
  confirmBooking(input: $input) { __typename }
}
"""
DECLINE = """
mutation Decline($input: DeclineBookingInput!) {
  declineBooking(input: $input) { __typename }
}
"""

EMAIL_ERROR = """
query { viewer { bookings(first: 5) { edges { node { emailError contactLanguage } } } } }
"""


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    with smtp_server() as inbox:
        yield inbox


async def _row(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[Booking, str]:
    """The booking and its host's zone (the page's, else the host's)."""
    async with sessionmaker() as session:
        [booking] = (await session.execute(select(Booking))).scalars().all()
        page = await session.get_one(SchedulingPage, booking.page_id)
        host = await session.get_one(User, booking.host_user_id)
        return booking, page.time_zone or host.time_zone


async def test_an_offline_request_in_japanese_then_confirmed_and_cancelled(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    smtp: Inbox,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A page in Tokyo (18:00 there is 09:00 UTC): the invitation's zone is the host's.
    ada = await factory.person(url_prefix="ada", name="Ada")
    hours = [{"weekday": "MONDAY", "start": "18:00", "end": "21:00"}]
    slug = await make_page(gql, ada, timeZone="Asia/Tokyo", weeklyHours=hours)
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    booked = await book_with_token(gql, slug, nine, language="ja")
    outbox = make_outbox(app, mailer=smtp.mailer())
    await send_pending(outbox, sessionmaker)

    # The contact hears in Japanese, the host (locale en-US) in English (C19, C43).
    contact, host = smtp.messages
    assert contact["To"] == "cleo@example.test"
    assert contact["Subject"] == "リクエストを受け付けました: Intro: Cleo Contact"
    assert contact["Content-Language"] == "ja"
    assert "リクエストを受け付けました" in text_of(contact)
    assert "Cleo Contact 様" in html_of(contact)
    assert calendar_of(contact) is None  # a request is no invitation yet
    assert booked["manageToken"] in manage_link(contact)

    assert host["To"] == ada.user.email
    assert host["Subject"] == "New request to confirm: Intro: Cleo Contact"
    booking, zone = await _row(sessionmaker)
    booking_id = booked["booking"]["id"]  # the global id confirmBooking takes
    confirm = f"http://localhost:3000/bookings/{booking_id}?decision=confirm"
    assert confirm in text_of(host)
    assert confirm.replace("&", "&amp;") in html_of(host)

    # The host confirms: offline still, so our REQUEST carries the invitation (C43).
    assert (await run(gql, CONFIRM, ada.token, bookingId=booked["booking"]["id"]))[
        "__typename"
    ] == "ConfirmBookingSuccess"
    await send_pending(outbox, sessionmaker)
    confirmed = smtp.messages[2]
    assert confirmed["Subject"] == "確定しました: Intro: Cleo Contact"
    calendar = calendar_of(confirmed)
    assert calendar is not None
    (event,) = calendar.walk("VEVENT")
    booking, zone = await _row(sessionmaker)
    assert (str(calendar["METHOD"]), str(event["UID"]), int(str(event["SEQUENCE"]))) == (
        "REQUEST",
        booking.ical_uid,
        1,
    )
    start = event.decoded("DTSTART")
    assert (start, str(start.tzinfo), zone) == (nine, "Asia/Tokyo", "Asia/Tokyo")
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == [zone]
    assert "18:00" in text_of(confirmed)  # the host's time, stated beside the contact's
    assert str(event["ATTENDEE"]) == "mailto:cleo@example.test"
    assert str(event["ORGANIZER"]) == f"mailto:{ada.user.email}"

    # The contact moves it by 30 minutes: a REQUEST again, same UID, higher SEQUENCE.
    later = nine + dt.timedelta(minutes=30)
    moved = await run(
        gql, RESCHEDULE_AS_CONTACT, manageToken=booked["manageToken"], start=later.isoformat()
    )
    assert moved["__typename"] == "RescheduleBookingAsContactSuccess"
    await send_pending(outbox, sessionmaker)
    rescheduled = smtp.messages[3]
    assert rescheduled["Subject"] == "日時が変更されました: Intro: Cleo Contact"
    assert "18:30" in text_of(rescheduled)
    calendar = calendar_of(rescheduled)
    assert calendar is not None
    (event,) = calendar.walk("VEVENT")
    assert (str(calendar["METHOD"]), str(event["UID"]), int(str(event["SEQUENCE"]))) == (
        "REQUEST",
        booking.ical_uid,
        2,
    )
    assert event.decoded("DTSTART") == later

    # The contact cancels: METHOD:CANCEL, same UID, higher SEQUENCE.
    cancelled = await run(gql, CANCEL_AS_CONTACT, manageToken=booked["manageToken"])
    assert cancelled["__typename"] == "CancelBookingAsContactSuccess"
    await send_pending(outbox, sessionmaker)
    cancel = smtp.messages[4]
    assert cancel["Subject"] == "キャンセルされました: Intro: Cleo Contact"
    calendar = calendar_of(cancel)
    assert calendar is not None
    (event,) = calendar.walk("VEVENT")
    assert (str(calendar["METHOD"]), str(event["UID"]), int(str(event["SEQUENCE"]))) == (
        "CANCEL",
        booking.ical_uid,
        3,
    )
    booking, _ = await _row(sessionmaker)
    assert booking.email_error is None

    # Every email to the contact links the manage page (C21, C41), which opens over real
    # HTTP for this booking, in Japanese; after the cancellation it says so.
    contacts = [m for m in smtp.messages if m["To"] == "cleo@example.test"]
    assert [str(m["Subject"]).split(":")[0] for m in contacts] == [
        "リクエストを受け付けました",
        "確定しました",
        "日時が変更されました",
        "キャンセルされました",
    ]
    links = [manage_link(message) for message in contacts]
    assert all(booked["manageToken"] in link for link in links)
    assert "予約の状況" in text_of(cancel)  # no "reschedule or cancel" on a cancelled one
    with pages_served(app) as base:
        pages = [await open_manage_link(base, link) for link in links]
    assert [page.status_code for page in pages] == [200] * 4
    assert all("Intro: Cleo Contact" in p.text and 'lang="ja"' in p.text for p in pages)
    assert pages_translations("ja").gettext("This meeting is cancelled.") in pages[-1].text

    # The link is sealed at rest, and shown by no log line (C21).
    await assert_sealed(sessionmaker, booked["manageToken"])
    assert booked["manageToken"] not in "".join(capfd.readouterr())


async def assert_sealed(sessionmaker: async_sessionmaker[AsyncSession], token: str) -> None:
    """Neither the booking nor any outbox row holds the manage token in the clear."""
    async with sessionmaker() as session:
        payloads = (await session.execute(select(OutboxMessage.payload))).scalars().all()
        (sealed,) = (await session.execute(select(Booking.manage_url_sealed))).scalars().all()
    assert sealed is not None
    assert token.encode() not in sealed
    assert all(token not in str(payload) for payload in payloads)


async def test_a_declined_request_tells_the_contact_why_in_english(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    smtp: Inbox,
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    booked = await book_with_token(gql, slug, nine)  # no language: the host's (en-US)
    outbox = make_outbox(app, mailer=smtp.mailer())
    declined = await run(
        gql, DECLINE, ada.token, bookingId=booked["booking"]["id"], reason="Out that week"
    )
    assert declined["__typename"] == "DeclineBookingSuccess"
    await send_pending(outbox, sessionmaker)
    _, _, decline = smtp.messages
    assert decline["Subject"] == "Declined: Intro: Cleo Contact"
    assert "Reason: Out that week" in text_of(decline)
    assert "declined your request" in text_of(decline)
    assert calendar_of(decline) is None
    # Its manage link shows the declined request (C41).
    assert "See this booking: " in text_of(decline)
    with pages_served(app) as base:
        page = await open_manage_link(base, manage_link(decline))
    assert page.status_code == 200
    assert "The host declined this request." in page.text


async def _google_booking(flow: GoogleFlow, factory: Factory) -> dict[str, Any]:
    """Ada on Google with a page, booked by Cleo in English at 09:00 next Monday."""
    ada = await factory.person(url_prefix="ada", name="Ada")
    assert "calendarConnection" in await flow.connect(ada)
    slug = await make_page(flow.gql, ada)
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    return await book_with_token(flow.gql, slug, nine, language="en")


async def test_a_google_booking_waits_for_the_write_and_carries_no_request(
    flow: GoogleFlow,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    smtp: Inbox,
) -> None:
    google = flow.google
    booked = await _google_booking(flow, factory)
    assert booked["booking"]["status"] == "CONFIRMED"
    outbox = make_outbox(app, mailer=smtp.mailer())
    (email_row,) = await booking_emails(sessionmaker)

    # C43: the confirmation waits for the calendar write's outcome, spending no attempt.
    waited = await outbox.deliver(email_row.id)
    assert waited.state is OutboxState.PENDING
    assert smtp.messages == []
    create = await calendar_create(sessionmaker)
    assert await outbox.deliver(create.id) == Outcome(OutboxState.DONE)
    await make_due(sessionmaker)
    assert await outbox.deliver(email_row.id) == Outcome(OutboxState.DONE)

    (confirmed,) = smtp.messages
    assert confirmed["Subject"] == "Confirmed: Intro: Cleo Contact"
    assert booked["manageToken"] in manage_link(confirmed)
    with pages_served(app) as base:
        page = await open_manage_link(base, manage_link(confirmed))
    assert (page.status_code, "Intro: Cleo Contact" in page.text) == (200, True)
    assert_no_invitation(confirmed)  # Google invites the attendee (sendUpdates=all)
    # The provider's is the one invitation: the event has the contact as attendee, and
    # Google was asked to send updates to all attendees.
    booking, _ = await _row(sessionmaker)
    event_id = event_id_for(event_key(booking))
    assert [a["email"] for a in google.event(event_id)["attendees"]] == ["cleo@example.test"]
    assert google.notifications == [("events.insert", event_id, "all")]


async def test_a_failed_google_write_gets_our_request_instead(
    flow: GoogleFlow,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    smtp: Inbox,
) -> None:
    google = flow.google
    await _google_booking(flow, factory)
    google.fail("503", operation="events.insert", times=None)
    outbox = make_outbox(app, mailer=smtp.mailer(), max_attempts=1)
    create = await calendar_create(sessionmaker)
    assert (await outbox.deliver(create.id)).state is OutboxState.FAILED
    await send_pending(outbox, sessionmaker)

    # C43: no provider invitation went out, so ours does.
    (confirmed,) = smtp.messages
    calendar = calendar_of(confirmed)
    assert calendar is not None
    assert str(calendar["METHOD"]) == "REQUEST"
    assert [part.get_filename() for part in confirmed.walk() if part.get_filename()] == [
        "invite.ics"
    ]


async def test_a_451_at_rcpt_is_retried_and_a_550_is_not(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    smtp: Inbox,
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    await book_with_token(gql, slug, nine)
    outbox = make_outbox(app, mailer=smtp.mailer())
    contact_row, host_row = await booking_emails(sessionmaker)

    smtp.refuse_rcpt = "451 4.2.0 Greylisted, try again"
    deferred = await outbox.deliver(contact_row.id)
    assert deferred.state is OutboxState.PENDING
    assert deferred.retry_in is not None
    booking, _ = await _row(sessionmaker)
    assert "451" in (booking.email_error or "")
    assert "retried" in (booking.email_error or "")
    smtp.refuse_rcpt = None
    await make_due(sessionmaker)
    assert await outbox.deliver(contact_row.id) == Outcome(OutboxState.DONE)
    booking, _ = await _row(sessionmaker)
    assert booking.email_error is None

    smtp.refuse_rcpt = "550 5.1.1 No such user"
    bounced = await outbox.deliver(host_row.id)
    assert bounced.state is OutboxState.FAILED
    _, failed = await booking_emails(sessionmaker)
    assert (failed.state, failed.attempts) == (OutboxState.FAILED, 1)
    booking, _ = await _row(sessionmaker)
    assert booking.email_error == f"The mail server refused the recipient {ada.user.email}."
    assert len(smtp.messages) == 1
    shown = await gql(EMAIL_ERROR, token=ada.token)
    assert shown["data"]["viewer"]["bookings"]["edges"] == [
        {"node": {"emailError": booking.email_error, "contactLanguage": "en"}}
    ]
