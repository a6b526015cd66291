"""createMeeting (S9) over HTTP: with calendar sync on, a calendar write with the contact
invited; with it off (or from an integration), only the engagement."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.graph.relay import to_global_id
from slotgraph.models import Booking
from slotgraph.models import Contact
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.outbox import OutboxKind
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.bookings import CREATE_MEETING
from tests.helpers.bookings import RESCHEDULE
from tests.helpers.bookings import outbox
from tests.helpers.bookings import run
from tests.helpers.graphql import GraphQLClient

TEN = dt.datetime(2030, 1, 7, 10, tzinfo=dt.UTC)


async def host_and_contact(factory: Factory) -> tuple[Person, Contact]:
    ada = await factory.person(name="Ada")
    contact = Contact(account_id=ada.account.id, email="cleo@example.test", name="Cleo")
    await factory.add(contact)
    return ada, contact


def meeting(contact: Contact, start: dt.datetime = TEN, **extra: Any) -> dict[str, Any]:
    return {
        "contactId": to_global_id("Contact", contact.id),
        "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=45)).isoformat(),
        "title": "Renewal call",
        **extra,
    }


async def test_with_calendar_sync_on_the_event_is_queued_with_the_contact_invited(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, contact = await host_and_contact(factory)
    # Exchange too: its adapter creates items, so S11's limit is lifted (C11).
    await factory.connection(ada, provider=Provider.EXCHANGE, calendar_sync=True)
    created = await run(gql, CREATE_MEETING, ada.token, **meeting(contact, timeZone="Asia/Tokyo"))
    assert created == {
        "__typename": "CreateMeetingSuccess",
        "calendarSynced": True,
        "notSyncedReason": None,
        "replayed": False,
        "booking": {
            "title": "Renewal call",
            "status": "CONFIRMED",
            "startsAt": TEN.isoformat(),
            "endsAt": (TEN + dt.timedelta(minutes=45)).isoformat(),
            "timeZone": "Asia/Tokyo",
            "onCalendar": True,
            "integration": None,
            "contact": {"email": "cleo@example.test"},
        },
    }
    [row] = await outbox(sessionmaker)
    assert (row.kind, row.payload) == (
        OutboxKind.CALENDAR_CREATE,
        {
            "bookingId": row.booking_id,
            "attendees": [{"email": "cleo@example.test", "name": "Cleo"}],
            "sendInvitations": True,
        },
    )


async def test_without_sync_or_from_an_integration_only_the_engagement_is_recorded(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, contact = await host_and_contact(factory)
    no_calendar = await run(gql, CREATE_MEETING, ada.token, **meeting(contact))
    assert (no_calendar["calendarSynced"], no_calendar["notSyncedReason"]) == (
        False,
        "NO_CALENDAR",
    )
    await factory.connection(ada, provider=Provider.EXCHANGE, calendar_sync=False)
    later = TEN + dt.timedelta(hours=1)
    sync_off = await run(gql, CREATE_MEETING, ada.token, **meeting(contact, later))
    assert (sync_off["notSyncedReason"], sync_off["booking"]["onCalendar"]) == ("SYNC_OFF", False)
    bob = await factory.person(name="Bob", account=ada.account)
    await factory.connection(bob, calendar_sync=True)
    bobs = Contact(account_id=ada.account.id, email="dan@example.test", name="Dan")
    await factory.add(bobs)
    from_zoom = await run(gql, CREATE_MEETING, bob.token, **meeting(bobs, integration="Zoom"))
    assert from_zoom["booking"]["integration"] == "Zoom"
    assert (from_zoom["calendarSynced"], from_zoom["notSyncedReason"]) == (False, "INTEGRATION")
    lost = await factory.person(name="Lost", account=ada.account)
    await factory.connection(lost, calendar_sync=True, status=ConnectionStatus.ACCESS_LOST)
    access_lost = await run(gql, CREATE_MEETING, lost.token, **meeting(bobs))
    assert access_lost["notSyncedReason"] == "ACCESS_LOST"
    assert await outbox(sessionmaker) == []  # no calendar write, no invitation
    async with sessionmaker() as session:
        assert len((await session.execute(select(Booking))).scalars().all()) == 4


async def test_overlapping_an_existing_booking_is_refused_and_the_host_may_move_it_freely(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, contact = await host_and_contact(factory)
    await factory.connection(ada, calendar_sync=True)
    first = await run(gql, CREATE_MEETING, ada.token, **meeting(contact, idempotencyKey="m-1"))
    replay = await run(gql, CREATE_MEETING, ada.token, **meeting(contact, idempotencyKey="m-1"))
    assert replay == {**first, "replayed": True}
    overlapping = await run(
        gql, CREATE_MEETING, ada.token, **meeting(contact, TEN + dt.timedelta(minutes=30))
    )
    assert (overlapping["__typename"], overlapping["field"]) == ("SlotUnavailable", "start")
    after = TEN + dt.timedelta(minutes=45)  # adjacent: [start, end) ranges do not overlap
    second = await run(gql, CREATE_MEETING, ada.token, **meeting(contact, after))
    assert second["__typename"] == "CreateMeetingSuccess"

    async with sessionmaker() as session:
        ids = [
            b.id for b in (await session.execute(select(Booking).order_by(Booking.id))).scalars()
        ]
    # No page: the host's chosen time stands, bounded only by the no-overlap constraint.
    into_first = await run(
        gql,
        RESCHEDULE,
        ada.token,
        bookingId=to_global_id("Booking", ids[1]),
        start=(TEN + dt.timedelta(minutes=15)).isoformat(),
    )
    assert (into_first["__typename"], into_first["field"]) == ("SlotUnavailable", "start")
    moved = await run(
        gql,
        RESCHEDULE,
        ada.token,
        bookingId=to_global_id("Booking", ids[1]),
        start=(TEN + dt.timedelta(days=1)).isoformat(),
    )
    assert moved["booking"]["start"] == (TEN + dt.timedelta(days=1)).isoformat()
    kinds = [m.kind for m in await outbox(sessionmaker)]
    assert kinds == [
        OutboxKind.CALENDAR_CREATE,
        OutboxKind.CALENDAR_CREATE,
        OutboxKind.CALENDAR_UPDATE,
    ]


async def test_foreign_contacts_bad_input_and_missing_scope_answer_typed_errors(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada, contact = await host_and_contact(factory)
    bob = await factory.person(name="Bob")
    foreign = await run(gql, CREATE_MEETING, bob.token, **meeting(contact))
    assert foreign == {
        "__typename": "NotFound",
        "message": "No contact with this id in your account; list yours with the `viewer` query.",
        "field": "contactId",
        "code": "NOT_FOUND",
    }
    backwards = meeting(contact, end=(TEN - dt.timedelta(hours=1)).isoformat())
    assert (await run(gql, CREATE_MEETING, ada.token, **backwards))["field"] == "end"
    assert (await run(gql, CREATE_MEETING, ada.token, **meeting(contact, title=" ")))[
        "field"
    ] == "title"
    zone = meeting(contact, timeZone="Mars/Base")
    assert (await run(gql, CREATE_MEETING, ada.token, **zone))["field"] == "timeZone"
    anonymous = await run(gql, CREATE_MEETING, None, **meeting(contact))
    assert anonymous["__typename"] == "PermissionDenied"


async def test_the_same_idempotency_key_racing_itself_makes_one_meeting_and_replays_it(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Two concurrent calls with one key (C12): one creates, the other answers its result.
    ada, contact = await host_and_contact(factory)
    fields = {"input": meeting(contact, idempotencyKey="m-race")}
    both = await asyncio.gather(
        gql(CREATE_MEETING, fields, token=ada.token), gql(CREATE_MEETING, fields, token=ada.token)
    )
    assert all("errors" not in result for result in both), both
    answers = [result["data"]["createMeeting"] for result in both]
    assert sorted(answer.pop("replayed") for answer in answers) == [False, True]
    assert answers[0] == answers[1]
    assert answers[0]["__typename"] == "CreateMeetingSuccess"
    async with sessionmaker() as session:
        assert len((await session.execute(select(Booking))).scalars().all()) == 1
