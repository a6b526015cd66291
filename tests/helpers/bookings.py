"""Bookings made as contacts make them (through GraphQL), read back as hosts and as rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import Booking
from slotgraph.models import OutboxMessage
from slotgraph.models.outbox import OutboxKind
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

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
    """Book `start` on the page as the contact Cleo (anonymous, as on the booking page);
    the `bookMeeting` payload."""
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


# Two optional questions: bookings that answer nothing stay valid.
TOPIC_AND_COMPANY = [
    {"key": "topic", "label": "Topic", "kind": "SHORT_TEXT"},
    {"key": "company", "label": "Company", "kind": "SHORT_TEXT"},
]


async def page_and_nine(
    gql: GraphQLClient, factory: Factory, form_fields: list[dict[str, Any]] = TOPIC_AND_COMPANY
) -> tuple[Person, str, dt.datetime]:
    """Ada with a Monday 09:00-12:00 page asking `form_fields`: the host, the slug and
    next Monday 09:00 UTC."""
    ada = await factory.person(url_prefix="ada", name="Ada")
    slug = await make_page(
        gql,
        ada,
        weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}],
        formFields=form_fields,
    )
    return ada, slug, dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)


RESCHEDULE = """
mutation Move($input: RescheduleBookingInput!) {
  rescheduleBooking(input: $input) {
    __typename
    ... on RescheduleBookingSuccess {
      replayed booking { id status start: startsAt end: endsAt onCalendar }
    }
    ... on Error { message field code }
    ... on BookingNotChangeable { reason }
  }
}
"""

RESCHEDULE_AS_CONTACT = """
mutation Move($input: RescheduleBookingAsContactInput!) {
  rescheduleBookingAsContact(input: $input) {
    __typename
    ... on RescheduleBookingAsContactSuccess { replayed booking { id status start end } }
    ... on Error { message field code }
    ... on BookingNotChangeable { reason }
  }
}
"""

CREATE_MEETING = """
mutation Create($input: CreateMeetingInput!) {
  createMeeting(input: $input) {
    __typename
    ... on CreateMeetingSuccess {
      calendarSynced notSyncedReason replayed
      booking { title status startsAt endsAt timeZone onCalendar integration contact { email } }
    }
    ... on Error { message field code }
  }
}
"""


CANCEL_AS_CONTACT = """
mutation Cancel($input: CancelBookingAsContactInput!) {
  cancelBookingAsContact(input: $input) {
    __typename
    ... on CancelBookingAsContactSuccess { alreadyCancelled booking { id status start } }
    ... on Error { message field code }
    ... on BookingNotChangeable { reason }
  }
}
"""


BOOK_WITH_TOKEN = """
mutation Book($input: BookMeetingInput!) {
  bookMeeting(input: $input) {
    __typename
    ... on BookMeetingSuccess { manageToken replayed booking { id status } }
    ... on Error { message field code }
  }
}
"""


async def run(gql: GraphQLClient, operation: str, token: str | None = None, **fields: Any) -> Any:
    """Send `operation` with `fields` as its `input`; the payload of its one root field."""
    result = await gql(operation, {"input": fields}, token=token)
    assert "errors" not in result, result
    return next(iter(result["data"].values()))


async def book_with_token(
    gql: GraphQLClient, slug: str, start: dt.datetime, **extra: Any
) -> dict[str, Any]:
    """Book `start` as Cleo and keep what the contact gets back, the manage token among it."""
    fields = {
        "pageSlug": slug,
        "start": start.isoformat(),
        "timeZone": "Europe/Paris",
        "contact": {"name": "Cleo Contact", "email": "cleo@example.test"},
        **extra,
    }
    payload: dict[str, Any] = await run(gql, BOOK_WITH_TOKEN, **fields)
    assert payload["__typename"] == "BookMeetingSuccess", payload
    return payload


async def outbox(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    """Every outbox row but the booking emails (tests/sync/test_booking_emails.py reads
    those), oldest first."""
    async with sessionmaker() as session:
        found = await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.kind != OutboxKind.BOOKING_EMAIL)
            .order_by(OutboxMessage.id)
        )
        return list(found.scalars())


BOOKINGS = """
query { viewer { bookings(first: 20) { edges { node {
  title status calendarWriteState calendarWriteError
} } } } }
"""


async def book_slots(gql: GraphQLClient, host: Person, count: int = 1) -> list[dt.datetime]:
    """`count` confirmed bookings on the host's page, at 09:00, 09:30 ... next Monday."""
    slug = await make_page(
        gql, host, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    starts = [nine + dt.timedelta(minutes=30 * i) for i in range(count)]
    for start in starts:
        booked = await book(gql, slug, start)
        assert (booked["__typename"], booked["booking"]["status"]) == (
            "BookMeetingSuccess",
            "CONFIRMED",
        ), booked
    return starts


async def host_bookings(gql: GraphQLClient, host: Person) -> list[dict[str, Any]]:
    """The host's bookings as the dashboard lists them."""
    result = await gql(BOOKINGS, token=host.token)
    assert "errors" not in result, result
    return [edge["node"] for edge in result["data"]["viewer"]["bookings"]["edges"]]


async def rows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[list[Booking], list[OutboxMessage]]:
    """Every booking and every outbox row but the booking emails (their own tests read
    those: tests/sync/test_booking_emails.py), oldest first."""
    async with sessionmaker() as session:
        bookings = (await session.execute(select(Booking).order_by(Booking.id))).scalars()
        messages = (
            await session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.kind != OutboxKind.BOOKING_EMAIL)
                .order_by(OutboxMessage.id)
            )
        ).scalars()
        return list(bookings), list(messages)
