"""bookMeeting (S7, S8, S13, S20, C12, C13) over HTTP, anonymous as contacts are."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import Contact
from slotgraph.models import OutboxMessage
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.outbox import OutboxKind
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book
from tests.helpers.bookings import page_and_nine
from tests.helpers.graphql import GraphQLClient


async def test_offline_booking_is_a_request_and_links_a_contact(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    payload = await book(gql, slug, nine, answers=[{"question": "topic", "answer": "Pricing"}])
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
    assert bookings[0].answers == {"topic": "Pricing"}
    # Offline: nothing goes to a calendar (S7); only the emails (C21): per request the
    # contact's "request received" and the host's "new request".
    assert {m.kind for m in outbox} == {OutboxKind.BOOKING_EMAIL}
    assert len(outbox) == 4


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


DEMO_FORM: list[dict[str, Any]] = [
    {"key": "company", "label": "Company", "kind": "SHORT_TEXT", "required": True},
    {
        "key": "team_size",
        "label": "Team size",
        "kind": "SINGLE_CHOICE",
        "options": ["1-10", "11-50"],
    },
    {"key": "notes", "label": "Notes", "kind": "LONG_TEXT"},
    {"key": "phone", "label": "Phone", "kind": "PHONE"},
    {"key": "terms", "label": "I accept the terms", "kind": "CHECKBOX", "required": True},
]
GOOD_ANSWERS = {"company": "Initech", "terms": "true"}


def answer_list(answers: dict[str, str]) -> list[dict[str, str]]:
    return [{"question": key, "answer": value} for key, value in answers.items()]


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"terms": "true"}, "answers.company", "'Company' is required; give an answer."),
        (
            {**GOOD_ANSWERS, "company": "   "},
            "answers.company",
            "'Company' is required; give an answer.",
        ),
        (
            {**GOOD_ANSWERS, "terms": "false"},
            "answers.terms",
            "'I accept the terms' is required; tick it.",
        ),
        (
            {**GOOD_ANSWERS, "budget": "lots"},
            "answers.budget",
            "This page has no question 'budget'; its questions: company, notes, phone, "
            "team_size, terms.",
        ),
        (
            {**GOOD_ANSWERS, "team_size": "500+"},
            "answers.team_size",
            "'Team size': choose one of 1-10, 11-50.",
        ),
        (
            {**GOOD_ANSWERS, "phone": "call me"},
            "answers.phone",
            "'Phone': give a phone number of digits, spaces and + ( ) . -, e.g. +44 20 7946 0000.",
        ),
        (
            {**GOOD_ANSWERS, "notes": "x" * 2_001},
            "answers.notes",
            "'Notes': at most 2,000 characters.",
        ),
        (
            {**GOOD_ANSWERS, "terms": "yes"},
            "answers.terms",
            "'I accept the terms': answer true or false.",
        ),
    ],
)
async def test_answers_the_form_does_not_take_are_refused_and_nothing_is_written(
    gql: GraphQLClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    answers: dict[str, str],
    field: str,
    message: str,
) -> None:
    _, slug, nine = await page_and_nine(gql, factory, DEMO_FORM)
    assert await book(gql, slug, nine, answers=answer_list(answers)) == {
        "__typename": "ValidationError",
        "message": message,
        "field": field,
        "code": "VALIDATION",
    }
    async with sessionmaker() as session:
        assert (await session.execute(select(Booking))).scalars().all() == []
        assert (await session.execute(select(Contact))).scalars().all() == []


HOST_BOOKINGS = """
{ viewer { bookings(first: 10) { edges { node { status answers { question answer } } } } } }
"""


async def test_valid_answers_are_stored_trimmed_and_shown_on_the_hosts_booking(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory, DEMO_FORM)
    answers = {"company": "  Initech ", "team_size": "11-50", "notes": "", "terms": "true"}
    booked = await book(gql, slug, nine, answers=answer_list(answers))
    assert booked["__typename"] == "BookMeetingSuccess", booked
    hosted = await gql(HOST_BOOKINGS, token=ada.token)
    assert hosted == {
        "data": {
            "viewer": {
                "bookings": {
                    "edges": [
                        {
                            "node": {
                                "status": "REQUESTED",
                                "answers": [  # by key; the blank optional note is left out
                                    {"question": "company", "answer": "Initech"},
                                    {"question": "team_size", "answer": "11-50"},
                                    {"question": "terms", "answer": "true"},
                                ],
                            }
                        }
                    ]
                }
            }
        }
    }
