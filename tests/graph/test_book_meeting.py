"""bookMeeting (S7, S8, S13, S20, C12, C13) over HTTP, anonymous as contacts are."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Booking, CalendarConnection, Contact, OutboxMessage
from models.enums import BookingStatus, ConnectionStatus
from models.outbox import OutboxKind
from tests.conftest import Factory, GraphQLClient, Person
from tests.graph.test_available_slots import make_page, next_monday

BOOK = """
mutation Book($input: BookMeetingInput!) {
  bookMeeting(input: $input) {
    __typename
    ... on BookMeetingSuccess { offline replayed booking { id title start end status timeZone } }
    ... on Error { message field code }
    ... on PageUnavailable { reason }
  }
}
"""


async def book(gql: GraphQLClient, slug: str, start: dt.datetime, **extra: Any) -> dict[str, Any]:
    fields = {
        "pageSlug": slug,
        "start": start.isoformat(),
        "timeZone": "Europe/Paris",
        "contact": {"name": "Cleo Contact", "email": "Cleo@Example.test"},
        **extra,
    }
    result = await gql(BOOK, {"input": fields})
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["bookMeeting"]
    return payload


async def page_and_nine(gql: GraphQLClient, factory: Factory) -> tuple[Person, str, dt.datetime]:
    ada = await factory.person(url_prefix="ada", name="Ada")
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    return ada, slug, dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)


async def test_offline_booking_is_a_request_and_links_a_contact(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    payload = await book(gql, slug, nine, answers=[{"question": "Topic", "answer": "Pricing"}])
    assert payload == {
        "__typename": "BookMeetingSuccess",
        "offline": True,
        "replayed": False,
        "booking": {
            "id": payload["booking"]["id"],
            "title": "Intro: Cleo Contact",
            "start": nine.isoformat(),
            "end": (nine + dt.timedelta(minutes=30)).isoformat(),
            "status": "REQUESTED",
            "timeZone": "Europe/Paris",
        },
    }
    again = await book(gql, slug, nine, contact={"name": "Cleo", "email": "cleo@example.test"})
    assert again["__typename"] == "SlotUnavailable"
    later = await book(
        gql,
        slug,
        nine + dt.timedelta(hours=1),
        contact={"name": "Cleo", "email": "cleo@example.test"},
    )
    assert later["__typename"] == "BookMeetingSuccess"
    async with sessionmaker() as session:
        contacts = (await session.execute(select(Contact))).scalars().all()
        bookings = (await session.execute(select(Booking))).scalars().all()
        outbox = (await session.execute(select(OutboxMessage))).scalars().all()
    assert [c.email for c in contacts] == ["Cleo@Example.test"]  # matched by email (S20)
    assert {b.contact_id for b in bookings} == {contacts[0].id}
    assert bookings[0].answers == {"Topic": "Pricing"}
    assert outbox == []  # offline: nothing goes to a calendar (S7)


async def test_times_off_the_grid_or_outside_hours_are_unavailable(
    gql: GraphQLClient, factory: Factory
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    for start in (
        nine + dt.timedelta(minutes=7),
        nine + dt.timedelta(hours=3),
        nine - dt.timedelta(days=7),
    ):
        assert (await book(gql, slug, start))["__typename"] == "SlotUnavailable"
    bad_email = await book(gql, slug, nine, contact={"name": "X", "email": "not-an-email"})
    assert (bad_email["__typename"], bad_email["field"]) == ("ValidationError", "contact.email")


async def test_idempotency_key_replays_the_first_result(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    first = await book(gql, slug, nine, idempotencyKey="k-1")
    replay = await book(gql, slug, nine, idempotencyKey="k-1")
    assert replay == {**first, "replayed": True}
    different = await book(gql, slug, nine + dt.timedelta(hours=1), idempotencyKey="k-1")
    assert (different["__typename"], different["field"]) == (
        "IdempotencyKeyReused",
        "idempotencyKey",
    )
    async with sessionmaker() as session:
        assert len((await session.execute(select(Booking))).scalars().all()) == 1


async def test_lost_access_refuses_and_tells_the_host_once_a_day(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    connection, _ = await factory.connection(ada)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id == connection.id)
            .values(status=ConnectionStatus.ACCESS_LOST)
        )
    for _ in range(3):
        refused = await book(gql, slug, nine)
        assert refused["reason"] == "HOST_ACCESS_LOST"
    async with sessionmaker() as session:
        outbox = (await session.execute(select(OutboxMessage))).scalars().all()
        bookings = (await session.execute(select(Booking))).scalars().all()
    assert bookings == []
    assert [(m.kind, m.payload["to"]) for m in outbox] == [(OutboxKind.EMAIL, ada.user.email)]
    assert "tried to book" in outbox[0].payload["subject"]


async def test_cancelled_bookings_free_their_slot(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    assert (await book(gql, slug, nine))["__typename"] == "BookMeetingSuccess"
    async with sessionmaker.begin() as session:
        await session.execute(update(Booking).values(status=BookingStatus.CANCELLED))
    assert (await book(gql, slug, nine))["__typename"] == "BookMeetingSuccess"
