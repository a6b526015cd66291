"""Idempotency keys under concurrency (C12), over real HTTP against `slotgraph serve
--workers 3`: every call with one key answers the first call's result, whichever process it
reaches and however the calls interleave, for every mutation that takes a key; and a replay
is the first answer exactly, even after the booking changed since.

The pages are offline (no calendar, S7), so the live re-check reads only the host's
bookings: a twin that committed first makes the slot taken, which is how a key raced itself
into `SlotUnavailable` before calls with one key waited for each other.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.graph.relay import to_global_id
from slotgraph.models import Booking
from slotgraph.models import Contact
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.bookings import BOOK
from tests.helpers.bookings import CANCEL_AS_CONTACT
from tests.helpers.bookings import CREATE_MEETING
from tests.helpers.bookings import RESCHEDULE
from tests.helpers.bookings import RESCHEDULE_AS_CONTACT
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.bookings import run
from tests.helpers.graphql import GraphQLClient
from tests.helpers.serving import RACE_ENV
from tests.helpers.serving import serve

CALLERS = 50
BOOK_OFFLINE = """
mutation Book($input: BookMeetingInput!) {
  bookMeeting(input: $input) {
    __typename
    ... on BookMeetingSuccess { offline replayed manageToken booking { id status start end } }
    ... on Error { message field code }
  }
}
"""
CANCEL = """
mutation Cancel($input: CancelBookingInput!) {
  cancelBooking(input: $input) { __typename ... on Error { message } }
}
"""


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(database_url, tmp_path_factory.mktemp("keys"), workers=3, env=RACE_ENV) as base:
        yield base


@pytest.fixture
async def served(server: str, engine: object) -> AsyncIterator[GraphQLClient]:
    """A client of the served processes (`engine`: the test database is migrated and
    emptied after each test)."""
    limits = httpx.Limits(max_connections=CALLERS, max_keepalive_connections=CALLERS)
    async with httpx.AsyncClient(base_url=server, timeout=60, limits=limits) as client:
        yield GraphQLClient(client)


async def at_once(
    gql: GraphQLClient, operation: str, token: str | None, **fields: Any
) -> list[Any]:
    """`CALLERS` identical calls sent together; their payloads."""
    return await asyncio.gather(*(run(gql, operation, token, **fields) for _ in range(CALLERS)))


def first_and_replays(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The one first answer, after checking every other one is it, replayed."""
    assert Counter(answer["replayed"] for answer in answers) == {False: 1, True: CALLERS - 1}
    [first] = [answer for answer in answers if not answer["replayed"]]
    for answer in answers:
        assert {**answer, "replayed": False, "manageToken": None} == {
            **first,
            "manageToken": None,
        }
    return first


def booking_fields(slug: str, start: dt.datetime, key: str) -> dict[str, Any]:
    return {
        "pageSlug": slug,
        "start": start.isoformat(),
        "timeZone": "Europe/Paris",
        "contact": {"name": "Cleo Contact", "email": "cleo@example.test"},
        "idempotencyKey": key,
    }


async def booking_count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(Booking))).scalar_one()


async def test_concurrent_bookings_with_one_key_all_answer_the_first_booking(
    served: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug, nine = await page_and_nine(served, factory)
    answers = await at_once(served, BOOK, None, **booking_fields(slug, nine, "one-key"))
    assert {answer["__typename"] for answer in answers} == {"BookMeetingSuccess"}, answers
    assert len({answer["booking"]["id"] for answer in answers}) == 1
    first_and_replays(answers)
    assert await booking_count(sessionmaker) == 1


async def test_concurrent_reschedules_with_one_key_all_answer_the_first_move(
    served: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(served, factory)
    booked = await book_with_token(served, slug, nine)
    ten = nine + dt.timedelta(hours=1)
    as_host = await at_once(
        served,
        RESCHEDULE,
        ada.token,
        bookingId=booked["booking"]["id"],
        start=ten.isoformat(),
        idempotencyKey="host-move",
    )
    assert {a["__typename"] for a in as_host} == {"RescheduleBookingSuccess"}, as_host
    assert first_and_replays(as_host)["booking"]["start"] == ten.isoformat()

    eleven = nine + dt.timedelta(hours=2)
    as_contact = await at_once(
        served,
        RESCHEDULE_AS_CONTACT,
        None,
        manageToken=booked["manageToken"],
        start=eleven.isoformat(),
        idempotencyKey="contact-move",
    )
    assert {a["__typename"] for a in as_contact} == {"RescheduleBookingAsContactSuccess"}
    assert first_and_replays(as_contact)["booking"]["start"] == eleven.isoformat()


async def contact_of(factory: Factory, host: Person) -> Contact:
    contact = Contact(account_id=host.account.id, email="dan@example.test", name="Dan")
    await factory.add(contact)
    return contact


def meeting_fields(contact: Contact, key: str) -> dict[str, Any]:
    start = dt.datetime(2030, 1, 7, 10, tzinfo=dt.UTC)
    return {
        "contactId": to_global_id("Contact", contact.id),
        "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=45)).isoformat(),
        "title": "Renewal call",
        "idempotencyKey": key,
    }


async def test_concurrent_meetings_with_one_key_all_answer_the_first_meeting(
    served: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada = await factory.person(name="Ada")
    contact = await contact_of(factory, ada)
    answers = await at_once(served, CREATE_MEETING, ada.token, **meeting_fields(contact, "m"))
    assert {answer["__typename"] for answer in answers} == {"CreateMeetingSuccess"}, answers
    first_and_replays(answers)
    assert await booking_count(sessionmaker) == 1


async def test_a_replay_is_the_first_answer_even_after_the_booking_changed(
    served: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, slug, nine = await page_and_nine(served, factory)
    booking = booking_fields(slug, nine, "offline-booking")
    first = await run(served, BOOK_OFFLINE, None, **booking)
    assert (first["offline"], first["booking"]["status"]) == (True, "REQUESTED")
    ten = nine + dt.timedelta(hours=1)
    move = {"bookingId": first["booking"]["id"], "start": ten.isoformat(), "idempotencyKey": "mv"}
    moved = await run(served, RESCHEDULE, ada.token, **move)
    assert moved["__typename"] == "RescheduleBookingSuccess", moved
    cancelled = await run(served, CANCEL_AS_CONTACT, manageToken=first["manageToken"])
    assert cancelled["booking"]["status"] == "CANCELLED"

    assert await run(served, BOOK_OFFLINE, None, **booking) == {
        **first,
        "replayed": True,
        "manageToken": None,  # shown once
    }
    assert await run(served, RESCHEDULE, ada.token, **move) == {**moved, "replayed": True}

    contact = await contact_of(factory, ada)
    created = await run(served, CREATE_MEETING, ada.token, **meeting_fields(contact, "mt"))
    async with sessionmaker() as session:
        meeting = select(Booking.id).where(Booking.page_id.is_(None))
        meeting_id = (await session.execute(meeting)).scalar_one()
    cancel = await run(served, CANCEL, ada.token, bookingId=to_global_id("Booking", meeting_id))
    assert cancel["__typename"] == "CancelBookingSuccess"
    replayed = await run(served, CREATE_MEETING, ada.token, **meeting_fields(contact, "mt"))
    assert replayed == {**created, "replayed": True}
    assert replayed["booking"]["status"] == "CONFIRMED"
