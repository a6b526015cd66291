"""Cancel and reschedule (S8, C9, C11, C12, C14) over HTTP: by the host
with a token, by the contact with the manage token bookMeeting answered once."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.graph.relay import to_global_id
from slotgraph.models import Booking
from slotgraph.models import Contact
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import Scope
from slotgraph.models.outbox import OutboxKind
from slotgraph.usecases.bookings import new_manage_token
from tests.fakes.exchange import FakeExchange
from tests.fakes.scenario import ScriptedEvent
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.bookings import CANCEL_AS_CONTACT
from tests.helpers.bookings import RESCHEDULE
from tests.helpers.bookings import RESCHEDULE_AS_CONTACT
from tests.helpers.bookings import book
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import outbox
from tests.helpers.bookings import page_and_nine
from tests.helpers.bookings import run
from tests.helpers.connections import connect_exchange
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

CANCEL = """
mutation Cancel($input: CancelBookingInput!) {
  cancelBooking(input: $input) {
    __typename
    ... on CancelBookingSuccess { alreadyCancelled booking { id status start: startsAt } }
    ... on Error { message field code }
    ... on BookingNotChangeable { reason }
  }
}
"""


async def test_manage_token_is_shown_once_and_stored_only_as_a_digest(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    first = await book_with_token(gql, slug, nine, idempotencyKey="k-1")
    token = first["manageToken"]
    assert token.startswith("sgm_")
    assert len(token) > 40
    replay = await book_with_token(gql, slug, nine, idempotencyKey="k-1")
    assert replay == {**first, "manageToken": None, "replayed": True}
    async with sessionmaker() as session:
        [stored] = (await session.execute(select(Booking))).scalars().all()
        # Every text value of every table, as the database would dump it.
        dump = (
            await session.execute(
                text(
                    "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM bookings) t "
                    "UNION ALL SELECT string_agg(t::text, ' ') FROM idempotency_keys t "
                    "UNION ALL SELECT string_agg(t::text, ' ') FROM outbox t"
                )
            )
        ).scalars()
    assert stored.manage_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in (row or "") for row in dump)


async def test_contact_moves_and_cancels_an_offline_booking_without_outbox_rows(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    booked = await book_with_token(gql, slug, nine)
    token, booking_id = booked["manageToken"], booked["booking"]["id"]
    ten = nine + dt.timedelta(hours=1)

    moved = await run(gql, RESCHEDULE_AS_CONTACT, manageToken=token, start=ten.isoformat())
    assert moved == {
        "__typename": "RescheduleBookingAsContactSuccess",
        "replayed": False,
        "booking": {
            "id": booking_id,
            "status": "REQUESTED",
            "start": ten.isoformat(),
            "end": (ten + dt.timedelta(minutes=30)).isoformat(),
        },
    }
    # The old slot is free again; the new one is taken.
    assert (await book(gql, slug, nine))["__typename"] == "BookMeetingSuccess"
    assert (await book(gql, slug, ten))["__typename"] == "SlotUnavailable"

    cancelled = await run(gql, CANCEL_AS_CONTACT, manageToken=token, reason="Clash")
    assert cancelled == {
        "__typename": "CancelBookingAsContactSuccess",
        "alreadyCancelled": False,
        "booking": {"id": booking_id, "status": "CANCELLED", "start": ten.isoformat()},
    }
    again = await run(gql, CANCEL_AS_CONTACT, manageToken=token)
    assert again == {**cancelled, "alreadyCancelled": True}
    refused = await run(gql, RESCHEDULE_AS_CONTACT, manageToken=token, start=nine.isoformat())
    assert (refused["__typename"], refused["reason"]) == ("BookingNotChangeable", "CANCELLED")
    assert (await book(gql, slug, ten))["__typename"] == "BookMeetingSuccess"
    assert await outbox(sessionmaker) == []  # offline (S7): no calendar to update


async def test_reschedule_into_a_taken_or_unoffered_slot_is_refused(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    mine = await book_with_token(gql, slug, nine)
    theirs = await book(
        gql, slug, nine + dt.timedelta(hours=1), contact={"name": "Dan", "email": "d@x.test"}
    )
    assert theirs["__typename"] == "BookMeetingSuccess"
    token = mine["manageToken"]
    for start, field in (
        (nine + dt.timedelta(minutes=45), "start"),  # overlaps Dan's 10:00
        (nine + dt.timedelta(minutes=7), "start"),  # off the 15-minute grid
        (nine + dt.timedelta(hours=5), "start"),  # outside the page's hours
    ):
        refused = await run(gql, RESCHEDULE_AS_CONTACT, manageToken=token, start=start.isoformat())
        assert (refused["__typename"], refused["field"]) == ("SlotUnavailable", field)
        by_host = await run(
            gql, RESCHEDULE, ada.token, bookingId=mine["booking"]["id"], start=start.isoformat()
        )
        assert by_host["__typename"] == "SlotUnavailable"
    # Its own time is not busy: a move by 15 minutes overlaps only itself.
    shifted = await run(
        gql,
        RESCHEDULE_AS_CONTACT,
        manageToken=token,
        start=(nine + dt.timedelta(minutes=15)).isoformat(),
    )
    assert shifted["__typename"] == "RescheduleBookingAsContactSuccess"
    async with sessionmaker() as session:
        starts = sorted(b.starts_at for b in (await session.execute(select(Booking))).scalars())
    assert starts == [nine + dt.timedelta(minutes=15), nine + dt.timedelta(hours=1)]


async def test_reschedule_idempotency_key_replays_the_first_move(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    booked = await book_with_token(gql, slug, nine)
    ten = (nine + dt.timedelta(hours=1)).isoformat()
    fields = {"bookingId": booked["booking"]["id"], "start": ten, "idempotencyKey": "move-1"}
    first = await run(gql, RESCHEDULE, ada.token, **fields)
    assert first["__typename"] == "RescheduleBookingSuccess"
    replay = await run(gql, RESCHEDULE, ada.token, **fields)
    assert replay == {**first, "replayed": True}
    other = await run(
        gql,
        RESCHEDULE,
        ada.token,
        **{**fields, "start": (nine + dt.timedelta(hours=2)).isoformat()},
    )
    assert (other["__typename"], other["field"]) == ("IdempotencyKeyReused", "idempotencyKey")


async def test_foreign_unknown_and_unauthorised_callers_change_nothing(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    booked = await book_with_token(gql, slug, nine)
    booking_id = booked["booking"]["id"]
    bob = await factory.person(name="Bob")
    reader = await factory.person(account=ada.account, name="Reader", scopes=(Scope.READ,))
    ten = (nine + dt.timedelta(hours=1)).isoformat()
    not_found = {
        "__typename": "NotFound",
        "message": "No booking with this id in your account; list yours with the `viewer` query.",
        "field": "bookingId",
        "code": "NOT_FOUND",
    }
    for bad_id in (booking_id, "Qm9va2luZzo5OTk5", "not-an-id"):
        assert await run(gql, CANCEL, bob.token, bookingId=bad_id) == not_found
        assert await run(gql, RESCHEDULE, bob.token, bookingId=bad_id, start=ten) == not_found
    denied = await run(gql, CANCEL, reader.token, bookingId=booking_id)
    assert (denied["__typename"], denied["code"]) == ("PermissionDenied", "PERMISSION_DENIED")
    anonymous = await run(gql, CANCEL, None, bookingId=booking_id)
    assert anonymous["__typename"] == "PermissionDenied"
    forged, _ = new_manage_token()
    for token in (forged, "", booked["manageToken"] + "x"):
        refused = await run(gql, CANCEL_AS_CONTACT, manageToken=token)
        assert (refused["__typename"], refused["field"]) == ("NotFound", "manageToken")
    async with sessionmaker() as session:
        [row] = (await session.execute(select(Booking))).scalars().all()
    assert (row.status, row.starts_at) == (BookingStatus.REQUESTED, nine)


async def test_started_meetings_cannot_move_and_only_the_host_may_cancel_them(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada = await factory.person(name="Ada")
    contact = Contact(account_id=ada.account.id, email="c@example.test", name="C")
    await factory.add(contact)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    token, digest = new_manage_token()
    started = Booking(
        account_id=ada.account.id,
        host_user_id=ada.user.id,
        contact_id=contact.id,
        title="Now",
        starts_at=now - dt.timedelta(minutes=10),
        ends_at=now + dt.timedelta(minutes=20),
        time_zone="UTC",
        status=BookingStatus.CONFIRMED,
        answers={},
        on_calendar=False,
        manage_token_hash=digest,
    )
    await factory.add(started)
    later = (now + dt.timedelta(days=1)).isoformat()
    by_contact = await run(gql, CANCEL_AS_CONTACT, manageToken=token)
    assert (by_contact["__typename"], by_contact["reason"]) == ("BookingNotChangeable", "STARTED")
    for moved in (
        await run(gql, RESCHEDULE_AS_CONTACT, manageToken=token, start=later),
        await run(gql, RESCHEDULE, ada.token, bookingId=_gid(started.id), start=later),
    ):
        assert (moved["__typename"], moved["reason"]) == ("BookingNotChangeable", "STARTED")
    by_host = await run(gql, CANCEL, ada.token, bookingId=_gid(started.id))
    assert by_host["booking"]["status"] == "CANCELLED"


def _gid(pk: int) -> str:
    return str(to_global_id("Booking", pk))


async def _exchange_host(gql: GraphQLClient, factory: Factory, exchange: FakeExchange) -> Person:
    ada = await factory.person(url_prefix="ada", name="Ada")
    await connect_exchange(gql, ada, exchange)
    return ada


async def test_on_exchange_host_and_contact_changes_queue_calendar_updates_and_delete(
    gql: GraphQLClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    exchange: FakeExchange,
) -> None:
    ada = await _exchange_host(gql, factory, exchange)
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    exchange.add_event(
        ScriptedEvent(
            "review", "Review", nine + dt.timedelta(hours=2), nine + dt.timedelta(hours=3)
        )
    )
    booked = await book_with_token(gql, slug, nine)
    assert booked["booking"]["status"] == "CONFIRMED"
    booking_id, token = booked["booking"]["id"], booked["manageToken"]
    # The event the outbox worker writes for the booking (delivery is not under test here).
    exchange.add_event(ScriptedEvent("intro", "Intro", nine, nine + dt.timedelta(minutes=30)))

    # The host moves it by 15 minutes: its own calendar event is not in the way.
    quarter = nine + dt.timedelta(minutes=15)
    by_host = await run(gql, RESCHEDULE, ada.token, bookingId=booking_id, start=quarter.isoformat())
    assert by_host["booking"] == {
        "id": booking_id,
        "status": "CONFIRMED",
        "start": quarter.isoformat(),
        "end": (quarter + dt.timedelta(minutes=30)).isoformat(),
        "onCalendar": True,
    }
    # 11:00 is busy on the Exchange calendar, read live (S8).
    busy = await run(
        gql,
        RESCHEDULE_AS_CONTACT,
        manageToken=token,
        start=(nine + dt.timedelta(hours=2)).isoformat(),
    )
    assert busy["__typename"] == "SlotUnavailable"
    ten = nine + dt.timedelta(hours=1)
    by_contact = await run(gql, RESCHEDULE_AS_CONTACT, manageToken=token, start=ten.isoformat())
    assert by_contact["__typename"] == "RescheduleBookingAsContactSuccess"
    cancelled = await run(gql, CANCEL, ada.token, bookingId=booking_id, reason="Ill")
    assert cancelled["booking"]["status"] == "CANCELLED"

    rows = await outbox(sessionmaker)
    pk = rows[0].booking_id
    assert [(m.kind, m.booking_id, m.payload) for m in rows] == [
        (OutboxKind.CALENDAR_CREATE, pk, {"bookingId": pk}),
        (
            OutboxKind.CALENDAR_UPDATE,
            pk,
            {
                "bookingId": pk,
                "remoteEventId": None,
                "start": quarter.isoformat(),
                "end": (quarter + dt.timedelta(minutes=30)).isoformat(),
                "previousStart": nine.isoformat(),
                "rescheduledBy": "host",
            },
        ),
        (
            OutboxKind.CALENDAR_UPDATE,
            pk,
            {
                "bookingId": pk,
                "remoteEventId": None,
                "start": ten.isoformat(),
                "end": (ten + dt.timedelta(minutes=30)).isoformat(),
                "previousStart": quarter.isoformat(),
                "rescheduledBy": "contact",
            },
        ),
        (
            OutboxKind.CALENDAR_DELETE,
            pk,
            {"bookingId": pk, "remoteEventId": None, "cancelledBy": "host", "reason": "Ill"},
        ),
    ]


async def test_after_its_page_is_deleted_only_the_host_can_move_a_booking(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    booked = await book_with_token(gql, slug, nine)
    async with sessionmaker() as session:
        [row] = (await session.execute(select(Booking))).scalars().all()
    deleted = await gql(
        "mutation($i: DeleteSchedulingPageInput!) { deleteSchedulingPage(input: $i) "
        "{ __typename } }",
        {"i": {"id": _page_gid(row.page_id)}},
        token=ada.token,
    )
    assert deleted["data"]["deleteSchedulingPage"]["__typename"] == "DeleteSchedulingPageSuccess"
    evening = (nine + dt.timedelta(hours=10)).isoformat()  # outside the old page's hours
    by_contact = await run(
        gql, RESCHEDULE_AS_CONTACT, manageToken=booked["manageToken"], start=evening
    )
    assert (by_contact["__typename"], by_contact["reason"]) == (
        "BookingNotChangeable",
        "PAGE_DELETED",
    )
    by_host = await run(
        gql, RESCHEDULE, ada.token, bookingId=booked["booking"]["id"], start=evening
    )
    assert by_host["booking"]["start"] == evening


def _page_gid(pk: int | None) -> str:
    assert pk is not None
    return str(to_global_id("SchedulingPage", pk))


async def test_two_contacts_racing_into_one_slot_leave_one_booking_there(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    tokens = [
        (await book_with_token(gql, slug, nine + dt.timedelta(hours=h)))["manageToken"]
        for h in (1, 2)
    ]
    target = nine.isoformat()
    answers = await asyncio.gather(
        *(run(gql, RESCHEDULE_AS_CONTACT, manageToken=t, start=target) for t in tokens)
    )
    assert sorted(a["__typename"] for a in answers) == [
        "RescheduleBookingAsContactSuccess",
        "SlotUnavailable",
    ]
    async with sessionmaker() as session:
        starts = sorted(b.starts_at for b in (await session.execute(select(Booking))).scalars())
    assert nine in starts
    assert len(starts) == 2
