"""Booking changes reach the host's calendar end to end (C3, C11, C14, S8, S12): a contact
books on a page whose host connected Google (the real consent flow against the Google fake)
or Exchange (the EWS fake); the outbox writes the event to the default calendar only, with
the contact as attendee; the host's `rescheduleBooking` moves it and the contact's
`cancelBookingAsContact` (manage token) removes it, each through an outbox delivery with the
real adapter. Also when the deliveries run out of order, all at once."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.jobs.deliveries.booking_events import event_key
from slotgraph.jobs.outbox import Outbox
from slotgraph.jobs.queue import JobQueue
from slotgraph.models import OutboxMessage
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from slotgraph.providers.google import event_id_for
from tests.fakes.exchange import FakeExchange
from tests.fakes.google import TEAM_CALENDAR
from tests.fakes.google import FakeGoogle
from tests.helpers import google_app
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.bookings import CANCEL_AS_CONTACT
from tests.helpers.bookings import RESCHEDULE
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import rows
from tests.helpers.bookings import run
from tests.helpers.connections import SET_AVAILABILITY
from tests.helpers.connections import exchange_host
from tests.helpers.google_app import GoogleFlow
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import eventually
from tests.helpers.jobs import make_outbox
from tests.helpers.jobs import working
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

# The app configured against the Google fake, and the consent flow's parties (fixtures).
app = google_app.app
browser = google_app.browser
flow = google_app.flow

CONTACT = "cleo@example.test"
CONNECTIONS = """
{ viewer { calendarConnections { edges { node {
  remoteCalendars { id name isPrimary }
} } } } }
"""


def nine() -> dt.datetime:
    return dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)


async def choose_availability_calendar(gql: GraphQLClient, host: Person) -> str:
    """Tick the host's one non-primary writable calendar as an availability calendar (S12):
    meetings must still be written to the default calendar only. Its name."""
    result = await gql(CONNECTIONS, token=host.token)
    (edge,) = result["data"]["viewer"]["calendarConnections"]["edges"]
    calendars = edge["node"]["remoteCalendars"]
    chosen = next(c for c in calendars if c["name"] in ("Team", "Team offsite"))
    ticked = await gql(SET_AVAILABILITY, {"ids": [chosen["id"]]}, token=host.token)
    assert "errors" not in ticked, ticked
    return str(chosen["name"])


async def deliver_pending(
    outbox: Outbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> list[tuple[OutboxKind, OutboxState]]:
    """Deliver every pending calendar row once, oldest first: (kind, state after)."""
    _, messages = await rows(sessionmaker)
    delivered: list[tuple[OutboxKind, OutboxState]] = []
    for message in messages:
        if message.state is OutboxState.PENDING and message.kind is not OutboxKind.EMAIL:
            outcome = await outbox.deliver(message.id)
            delivered.append((message.kind, outcome.state))
    return delivered


async def booked_at_nine(gql: GraphQLClient, host: Person) -> tuple[str, str]:
    """A confirmed booking at 09:00 next Monday: (booking id, the contact's manage token)."""
    slug = await make_page(
        gql, host, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    booked = await book_with_token(
        gql, slug, nine(), contact={"name": "Cleo Contact", "email": CONTACT}
    )
    assert booked["booking"]["status"] == "CONFIRMED", booked
    return booked["booking"]["id"], booked["manageToken"]


# -- Google ------------------------------------------------------------------------------


def google_copies(google: FakeGoogle, event_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(calendar id, event resource) of every live copy of the event on the fake."""
    return [
        (calendar_id, google.event(event_id, calendar_id))
        for calendar_id, calendar in google.calendars.items()
        if event_id in calendar.events and calendar.events[event_id].get("status") != "cancelled"
    ]


def google_times(resource: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    return tuple(  # type: ignore[return-value]
        dt.datetime.fromisoformat(resource[edge]["dateTime"]).astimezone(dt.UTC)
        for edge in ("start", "end")
    )


async def google_host(flow: GoogleFlow, factory: Factory) -> Person:
    ada = await factory.person(url_prefix="ada", name="Ada")
    landed = await flow.connect(ada)
    assert "calendarConnection" in landed, landed
    assert await choose_availability_calendar(flow.gql, ada) == "Team"
    return ada


async def test_google_booking_is_written_moved_and_removed_through_the_outbox(
    flow: GoogleFlow,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    gql, google = flow.gql, flow.google
    ada = await google_host(flow, factory)
    booking_id, manage_token = await booked_at_nine(gql, ada)
    outbox = make_outbox(app)

    assert await deliver_pending(outbox, sessionmaker) == [
        (OutboxKind.CALENDAR_CREATE, OutboxState.DONE)
    ]
    (booking,), _ = await rows(sessionmaker)
    event_id = event_id_for(event_key(booking))
    ((calendar_id, event),) = google_copies(google, event_id)
    assert calendar_id == google.email  # the default calendar, not "Team" (C3, S12)
    assert calendar_id != TEAM_CALENDAR
    assert google_times(event) == (nine(), nine() + dt.timedelta(minutes=30))
    assert [a["email"] for a in event["attendees"]] == [CONTACT]

    # The host moves it by 15 minutes: its own event on Google is not in the way (S8).
    quarter = nine() + dt.timedelta(minutes=15)
    moved = await run(gql, RESCHEDULE, ada.token, bookingId=booking_id, start=quarter.isoformat())
    assert (moved["__typename"], moved["booking"]["start"]) == (
        "RescheduleBookingSuccess",
        quarter.isoformat(),
    )
    assert await deliver_pending(outbox, sessionmaker) == [
        (OutboxKind.CALENDAR_UPDATE, OutboxState.DONE)
    ]
    ((calendar_id, event),) = google_copies(google, event_id)
    assert (calendar_id, google_times(event)) == (
        google.email,
        (quarter, quarter + dt.timedelta(minutes=30)),
    )
    assert [a["email"] for a in event["attendees"]] == [CONTACT]

    cancelled = await run(gql, CANCEL_AS_CONTACT, manageToken=manage_token)
    assert cancelled["booking"]["status"] == "CANCELLED", cancelled
    assert await deliver_pending(outbox, sessionmaker) == [
        (OutboxKind.CALENDAR_DELETE, OutboxState.DONE)
    ]
    assert google_copies(google, event_id) == []
    (booking,), _ = await rows(sessionmaker)
    assert booking.remote_event_id is None


async def test_google_changes_delivered_all_at_once_end_in_the_last_state(
    flow: GoogleFlow,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Book, then move twice before anything was delivered; the three rows delivered
    concurrently (as several queue workers would): the update waits for the create, and
    the event ends at the last time."""
    gql, google = flow.gql, flow.google
    ada = await google_host(flow, factory)
    booking_id, _ = await booked_at_nine(gql, ada)
    for minutes in (60, 120):
        start = nine() + dt.timedelta(minutes=minutes)
        moved = await run(gql, RESCHEDULE, ada.token, bookingId=booking_id, start=start.isoformat())
        assert moved["__typename"] == "RescheduleBookingSuccess", moved
    outbox = make_outbox(app)
    _, messages = await rows(sessionmaker)
    calendar_rows = [m for m in messages if m.kind is not OutboxKind.EMAIL]
    assert [m.kind for m in calendar_rows] == [
        OutboxKind.CALENDAR_CREATE,
        OutboxKind.CALENDAR_UPDATE,
        OutboxKind.CALENDAR_UPDATE,
    ]

    for _ in range(20):  # until everything is delivered (waiting rows retried)
        outcomes = await asyncio.gather(
            *(outbox.deliver(m.id) for m in reversed(calendar_rows))  # updates first
        )
        if all(o.state is OutboxState.DONE for o in outcomes):
            break
        assert all(o.state is not OutboxState.FAILED for o in outcomes), outcomes
        await asyncio.sleep(min(o.retry_in or 0.0 for o in outcomes if o.retry_in is not None))
    else:
        raise AssertionError("the outbox never finished delivering")

    (booking,), _ = await rows(sessionmaker)
    ((calendar_id, event),) = google_copies(google, event_id_for(event_key(booking)))
    eleven = nine() + dt.timedelta(hours=2)
    assert (calendar_id, google_times(event)) == (
        google.email,
        (eleven, eleven + dt.timedelta(minutes=30)),
    )


# -- Exchange (C11) ----------------------------------------------------------------------


async def test_exchange_booking_is_written_moved_and_removed_by_the_queue_worker(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    app: Starlette,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The same on Exchange (C11), delivered as production does: by the job queue's worker
    loop, from the jobs each change enqueued in its own transaction."""
    ada = await exchange_host(gql, factory, exchange)
    assert await choose_availability_calendar(gql, ada) == "Team offsite"
    queue = JobQueue(database_url, concurrency=4, heartbeat_seconds=5, idle_poll_seconds=0.2)
    make_outbox(app).register(queue, sweep_seconds=60)

    async def delivered() -> bool:
        _, messages = await rows(sessionmaker)
        return all(m.state is OutboxState.DONE for m in messages)

    async with working(queue):
        booking_id, manage_token = await booked_at_nine(gql, ada)
        await eventually(delivered)
        (booking,), _ = await rows(sessionmaker)
        key = event_key(booking)
        (item,) = exchange.items_with_key(key)
        assert (item.folder_id, item.start, item.end, item.attendees) == (
            exchange.calendar.id,  # the default calendar, not "Team offsite" (C3, S12)
            nine(),
            nine() + dt.timedelta(minutes=30),
            [CONTACT],
        )

        quarter = nine() + dt.timedelta(minutes=15)
        moved = await run(
            gql, RESCHEDULE, ada.token, bookingId=booking_id, start=quarter.isoformat()
        )
        assert moved["__typename"] == "RescheduleBookingSuccess", moved
        await eventually(delivered)
        (moved_item,) = exchange.items_with_key(key)
        assert (moved_item.id, moved_item.folder_id, moved_item.start, moved_item.end) == (
            item.id,
            exchange.calendar.id,
            quarter,
            quarter + dt.timedelta(minutes=30),
        )

        cancelled = await run(gql, CANCEL_AS_CONTACT, manageToken=manage_token)
        assert cancelled["booking"]["status"] == "CANCELLED", cancelled
        await eventually(delivered)
        assert exchange.items_with_key(key) == []
    _, messages = await rows(sessionmaker)
    assert [m.kind for m in messages] == [
        OutboxKind.CALENDAR_CREATE,
        OutboxKind.CALENDAR_UPDATE,
        OutboxKind.CALENDAR_DELETE,
    ]


async def test_a_move_waits_for_a_throttled_create_however_long_and_then_lands(
    flow: GoogleFlow,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Google throttles the create for ten minutes; the move's row, delivered again and
    again meanwhile, waits for it without using up its attempts (it must not end FAILED
    while its create is still to come), then moves the event the create wrote."""
    gql, google = flow.gql, flow.google
    ada = await google_host(flow, factory)
    booking_id, _ = await booked_at_nine(gql, ada)
    ten = nine() + dt.timedelta(hours=1)
    moved = await run(gql, RESCHEDULE, ada.token, bookingId=booking_id, start=ten.isoformat())
    assert moved["__typename"] == "RescheduleBookingSuccess", moved
    outbox = make_outbox(app, max_attempts=3)
    _, messages = await rows(sessionmaker)
    create, update = (m for m in messages if m.kind is not OutboxKind.EMAIL)

    google.fail("429", operation="events.insert", times=1, retry_after="600")
    throttled = await outbox.deliver(create.id)
    assert (throttled.state, throttled.retry_in) == (OutboxState.PENDING, 600.0)
    waited = await outbox.deliver(update.id)
    assert waited.state is OutboxState.PENDING
    assert waited.retry_in is not None
    assert waited.retry_in > 500  # until the create's own retry, not a busy poll
    for _ in range(4):  # more deliveries than max_attempts, as a sweep would make
        await make_due_only(sessionmaker, update.id)
        assert (await outbox.deliver(update.id)).state is OutboxState.PENDING
    _, messages = await rows(sessionmaker)
    assert next(m for m in messages if m.id == update.id).attempts == 0

    await make_due_only(sessionmaker, create.id)
    assert (await outbox.deliver(create.id)).state is OutboxState.DONE
    await make_due_only(sessionmaker, update.id)
    assert (await outbox.deliver(update.id)).state is OutboxState.DONE
    (booking,), _ = await rows(sessionmaker)
    ((_, event),) = google_copies(google, event_id_for(event_key(booking)))
    assert google_times(event) == (ten, ten + dt.timedelta(minutes=30))


async def make_due_only(sessionmaker: async_sessionmaker[AsyncSession], outbox_id: int) -> None:
    """Time passes for one row: its backoff is over."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(available_at=text("now()"))
        )


async def test_a_move_of_a_meeting_cancelled_meanwhile_sends_the_contact_no_update(
    flow: GoogleFlow,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Moved, then cancelled before the move was delivered: delivering the move first must
    not patch the event (Google would mail the contact a new time for a cancelled meeting);
    the delete then removes it, and the booking shows no calendar error."""
    gql, google = flow.gql, flow.google
    ada = await google_host(flow, factory)
    booking_id, manage_token = await booked_at_nine(gql, ada)
    outbox = make_outbox(app)
    await deliver_pending(outbox, sessionmaker)
    ten = nine() + dt.timedelta(hours=1)
    moved = await run(gql, RESCHEDULE, ada.token, bookingId=booking_id, start=ten.isoformat())
    assert moved["__typename"] == "RescheduleBookingSuccess", moved
    cancelled = await run(gql, CANCEL_AS_CONTACT, manageToken=manage_token)
    assert cancelled["booking"]["status"] == "CANCELLED", cancelled

    assert await deliver_pending(outbox, sessionmaker) == [
        (OutboxKind.CALENDAR_UPDATE, OutboxState.DONE),
        (OutboxKind.CALENDAR_DELETE, OutboxState.DONE),
    ]

    (booking,), _ = await rows(sessionmaker)
    event_id = event_id_for(event_key(booking))
    assert [(op, sent) for op, eid, sent in google.notifications if eid == event_id] == [
        ("events.insert", "all"),
        ("events.delete", "all"),
    ]
    assert google_copies(google, event_id) == []
    assert (booking.remote_event_id, booking.calendar_write_error) == (None, None)
