"""The host answers offline requests (S7, C9, C12, C14, C20, C42) over HTTP: confirmBooking
re-checks the time and writes the meeting to a calendar connected since (through the
outbox, to the Exchange fake), declineBooking frees the time, and a request still
unanswered at its start is declined by the workers' sweep."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.jobs.deliveries.booking_events import event_key
from slotgraph.jobs.outbox import Outcome
from slotgraph.models import Booking
from slotgraph.models import BookingEvent
from slotgraph.models.enums import BookingActor
from slotgraph.models.enums import BookingEventKind
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import CalendarWriteState
from slotgraph.models.enums import Role
from slotgraph.models.enums import Scope
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from slotgraph.server.worker import build_queue
from slotgraph.usecases.booking_decisions import EXPIRED_REASON
from slotgraph.usecases.booking_decisions import decline_unanswered_requests
from slotgraph.usecases.services import Services
from tests.fakes.exchange import FakeExchange
from tests.fakes.scenario import ScriptedEvent
from tests.helpers.accounts import Factory
from tests.helpers.bookings import CANCEL_AS_CONTACT
from tests.helpers.bookings import book
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import outbox
from tests.helpers.bookings import page_and_nine
from tests.helpers.bookings import run
from tests.helpers.connections import connect_exchange
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import eventually
from tests.helpers.jobs import make_outbox
from tests.helpers.jobs import working

_BOOKING = """
  id status onCalendar calendarWriteState declinedAt declinedBy declineReason startsAt
"""
CONFIRM = f"""
mutation Confirm($input: ConfirmBookingInput!) {{
  confirmBooking(input: $input) {{
    __typename
    ... on ConfirmBookingSuccess {{ replayed booking {{ {_BOOKING} }} }}
    ... on Error {{ message field code }}
    ... on BookingNotChangeable {{ reason }}
  }}
}}
"""
DECLINE = f"""
mutation Decline($input: DeclineBookingInput!) {{
  declineBooking(input: $input) {{
    __typename
    ... on DeclineBookingSuccess {{ replayed booking {{ {_BOOKING} }} }}
    ... on Error {{ message field code }}
    ... on BookingNotChangeable {{ reason }}
  }}
}}
"""


def services_of(app: Starlette) -> Services:
    services: Services = app.state.runtime.services
    return services


async def _row(sessionmaker: async_sessionmaker[AsyncSession]) -> Booking:
    async with sessionmaker() as session:
        [row] = (await session.execute(select(Booking))).scalars().all()
        return row


async def _events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with sessionmaker() as session:
        rows = await session.execute(select(BookingEvent).order_by(BookingEvent.id))
        return [(e.kind, e.actor, e.reason) for e in rows.scalars()]


async def test_confirming_after_a_calendar_was_connected_writes_the_meeting_there(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Given an offline request (S7), and then the host connects Exchange (C20 "by then").
    ada, slug, nine = await page_and_nine(gql, factory)
    requested = await book_with_token(gql, slug, nine)
    assert requested["booking"]["status"] == "REQUESTED"
    booking_id = requested["booking"]["id"]
    await connect_exchange(gql, ada, exchange)
    assert await outbox(sessionmaker) == []

    confirmed = await run(gql, CONFIRM, ada.token, bookingId=booking_id)

    assert confirmed == {
        "__typename": "ConfirmBookingSuccess",
        "replayed": False,
        "booking": {
            "id": booking_id,
            "status": "CONFIRMED",
            "onCalendar": True,
            "calendarWriteState": "PENDING",
            "declinedAt": None,
            "declinedBy": None,
            "declineReason": None,
            "startsAt": nine.isoformat(),
        },
    }
    [message] = await outbox(sessionmaker)
    assert (message.kind, message.state) == (OutboxKind.CALENDAR_CREATE, OutboxState.PENDING)
    assert await make_outbox(app).deliver(message.id) == Outcome(OutboxState.DONE)
    row = await _row(sessionmaker)
    (item,) = exchange.items_with_key(event_key(row))
    assert (item.folder_id, item.subject, item.attendees) == (
        exchange.calendar.id,
        "Intro: Cleo Contact",
        ["cleo@example.test"],
    )
    assert (row.remote_event_id, row.calendar_write_state) == (
        item.id,
        CalendarWriteState.WRITTEN,
    )
    assert await _events(sessionmaker) == [
        (BookingEventKind.REQUESTED, BookingActor.CONTACT, None),
        (BookingEventKind.CONFIRMED, BookingActor.HOST, None),
    ]


async def test_confirming_without_a_calendar_keeps_it_off_calendars_and_replays_by_key(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    booking_id = (await book_with_token(gql, slug, nine))["booking"]["id"]
    fields = {"bookingId": booking_id, "idempotencyKey": "yes-1"}

    first = await run(gql, CONFIRM, ada.token, **fields)
    replay = await run(gql, CONFIRM, ada.token, **fields)
    again = await run(gql, CONFIRM, ada.token, bookingId=booking_id)
    reused = await run(gql, DECLINE, ada.token, **fields)

    assert first["booking"]["status"] == "CONFIRMED"
    assert (first["booking"]["onCalendar"], first["booking"]["calendarWriteState"]) == (
        False,
        "NONE",
    )
    assert replay == {**first, "replayed": True}
    assert (again["__typename"], again["reason"]) == ("BookingNotChangeable", "CONFIRMED")
    assert (reused["__typename"], reused["field"]) == ("IdempotencyKeyReused", "idempotencyKey")
    assert await outbox(sessionmaker) == []
    assert [kind for kind, _, _ in await _events(sessionmaker)] == [
        BookingEventKind.REQUESTED,
        BookingEventKind.CONFIRMED,
    ]


async def test_declining_frees_the_time_for_a_new_booking(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    requested = await book_with_token(gql, slug, nine)
    booking_id = requested["booking"]["id"]
    assert (await book(gql, slug, nine))["__typename"] == "SlotUnavailable"
    fields = {"bookingId": booking_id, "reason": "Away that week", "idempotencyKey": "no-1"}

    declined = await run(gql, DECLINE, ada.token, **fields)

    assert declined["__typename"] == "DeclineBookingSuccess"
    booking = declined["booking"]
    assert (booking["status"], booking["declinedBy"], booking["declineReason"]) == (
        "DECLINED",
        "HOST",
        "Away that week",
    )
    assert booking["declinedAt"] is not None
    assert await run(gql, DECLINE, ada.token, **fields) == {**declined, "replayed": True}
    # C42: the declined time is free: slots show it and the database takes a booking there.
    rebooked = await book(gql, slug, nine, contact={"name": "Dan", "email": "dan@x.test"})
    assert (rebooked["__typename"], rebooked["booking"]["status"]) == (
        "BookMeetingSuccess",
        "REQUESTED",
    )
    for operation, extra in ((CONFIRM, {}), (DECLINE, {"reason": "again"})):
        refused = await run(gql, operation, ada.token, bookingId=booking_id, **extra)
        assert (refused["__typename"], refused["reason"]) == ("BookingNotChangeable", "DECLINED")
    by_contact = await run(gql, CANCEL_AS_CONTACT, manageToken=requested["manageToken"])
    assert (by_contact["__typename"], by_contact["reason"]) == ("BookingNotChangeable", "DECLINED")
    assert (await _events(sessionmaker))[1] == (
        BookingEventKind.DECLINED,
        BookingActor.HOST,
        "Away that week",
    )


async def test_confirming_a_time_taken_meanwhile_answers_slot_unavailable(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    booking_id = (await book_with_token(gql, slug, nine))["booking"]["id"]
    # Meanwhile the host connected a calendar that holds a meeting at that time.
    await connect_exchange(gql, ada, exchange)
    exchange.add_event(
        ScriptedEvent(
            "board", "Board", nine - dt.timedelta(minutes=15), nine + dt.timedelta(minutes=15)
        )
    )

    refused = await run(gql, CONFIRM, ada.token, bookingId=booking_id)

    assert (refused["__typename"], refused["code"]) == ("SlotUnavailable", "SLOT_UNAVAILABLE")
    row = await _row(sessionmaker)
    assert (row.status, row.on_calendar) == (BookingStatus.REQUESTED, False)
    assert await outbox(sessionmaker) == []
    # Declining still works, and that frees the request's own time.
    declined = await run(gql, DECLINE, ada.token, bookingId=booking_id)
    assert declined["booking"]["status"] == "DECLINED"


async def test_a_request_unanswered_at_its_start_is_declined_by_the_sweep(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    booking_id = (await book_with_token(gql, slug, nine))["booking"]["id"]
    services = services_of(app)

    def at(moment: dt.datetime) -> Services:
        return dataclasses.replace(services, clock=lambda: moment)

    assert await decline_unanswered_requests(at(nine - dt.timedelta(seconds=1))) == 0
    assert (await _row(sessionmaker)).status is BookingStatus.REQUESTED
    assert await decline_unanswered_requests(at(nine)) == 1
    assert await decline_unanswered_requests(at(nine + dt.timedelta(minutes=1))) == 0

    row = await _row(sessionmaker)
    assert (row.status, row.declined_by, row.declined_at, row.decline_reason) == (
        BookingStatus.DECLINED,
        BookingActor.SYSTEM,
        nine,
        EXPIRED_REASON,
    )
    assert (await _events(sessionmaker))[-1] == (
        BookingEventKind.DECLINED,
        BookingActor.SYSTEM,
        EXPIRED_REASON,
    )
    late = await run(gql, CONFIRM, ada.token, bookingId=booking_id)
    assert (late["__typename"], late["reason"]) == ("BookingNotChangeable", "DECLINED")


async def test_only_the_host_answers_a_request(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    booking_id = (await book_with_token(gql, slug, nine))["booking"]["id"]
    bob = await factory.person(name="Bob")  # another account
    admin = await factory.person(account=ada.account, name="Admin", role=Role.ADMIN)
    reader = await factory.person(account=ada.account, name="Reader", scopes=(Scope.READ,))
    not_found = {
        "__typename": "NotFound",
        "message": "No booking with this id in your account; list yours with the `viewer` query.",
        "field": "bookingId",
        "code": "NOT_FOUND",
    }
    for operation in (CONFIRM, DECLINE):
        for bad_id in (booking_id, "Qm9va2luZzo5OTk5", "not-an-id"):
            assert await run(gql, operation, bob.token, bookingId=bad_id) == not_found
        # C20: the host decides; an admin of the account is not the host (C23).
        assert await run(gql, operation, admin.token, bookingId=booking_id) == not_found
        for token in (reader.token, None):
            denied = await run(gql, operation, token, bookingId=booking_id)
            assert (denied["__typename"], denied["code"]) == (
                "PermissionDenied",
                "PERMISSION_DENIED",
            )
    assert (await _row(sessionmaker)).status is BookingStatus.REQUESTED


async def test_a_worker_runs_the_request_expiry_sweep_on_its_own(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
) -> None:
    """C42 needs no one to call the sweep: the job queue every worker builds runs it every
    `request_expiry_sweep_seconds`, so a request whose start has come is declined."""
    _, slug, nine = await page_and_nine(gql, factory)
    await book_with_token(gql, slug, nine)
    runtime = app.state.runtime
    later = dataclasses.replace(
        runtime,
        settings=runtime.settings.model_copy(update={"request_expiry_sweep_seconds": 1.0}),
        services=dataclasses.replace(runtime.services, clock=lambda: nine),
    )
    async with working(build_queue(later, database_url)):

        async def declined() -> bool:
            return (await _row(sessionmaker)).status is BookingStatus.DECLINED

        await eventually(declined)
    assert (await _row(sessionmaker)).declined_by is BookingActor.SYSTEM
