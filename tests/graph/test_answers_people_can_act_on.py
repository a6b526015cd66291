"""Answers a contact or a partner app can act on, over HTTP: a refused slot says which rule
it broke (one `reason` per rule of the availability engine, each with its own message), and a
form that breaks several rules hears about every invalid field at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.bookings import run
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

BOOK = """
mutation Book($input: BookMeetingInput!) {
  bookMeeting(input: $input) {
    __typename
    ... on Error { message field code }
    ... on SlotUnavailable { reason }
    ... on ValidationError { problems { field message } }
  }
}
"""
MOVE = """
mutation Move($input: RescheduleBookingAsContactInput!) {
  rescheduleBookingAsContact(input: $input) {
    __typename
    ... on Error { message field code }
    ... on SlotUnavailable { reason }
  }
}
"""
CREATE_PAGE = """
mutation Create($input: CreateSchedulingPageInput!) {
  createSchedulingPage(input: $input) {
    __typename
    ... on Error { message field code }
    ... on ValidationError { problems { field message } }
  }
}
"""
FORM: list[dict[str, Any]] = [
    {"key": "topic", "label": "Topic", "kind": "SINGLE_CHOICE", "options": ["Sales", "Support"]},
    {"key": "phone", "label": "Phone", "kind": "PHONE"},
    {"key": "terms", "label": "Terms", "kind": "CHECKBOX", "required": True},
]


async def attempt(gql: GraphQLClient, slug: str, start: dt.datetime, **extra: Any) -> Any:
    fields = {
        "pageSlug": slug,
        "start": start.isoformat(),
        "timeZone": "Europe/Paris",
        "contact": {"name": "Cleo Contact", "email": "cleo@example.test"},
        **extra,
    }
    return await run(gql, BOOK, **fields)


async def test_each_refused_start_says_which_rule_it_breaks_with_its_own_message(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada = await factory.person(url_prefix="ada", name="Ada")
    hours = [{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    slug = await make_page(gql, ada, weeklyHours=hours, bookingWindowDays=30)
    one_a_day = await make_page(
        gql, ada, title="Short", weeklyHours=hours, maxMeetingsPerDay=1, bookingWindowDays=30
    )
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    assert (await book_with_token(gql, slug, nine))["__typename"] == "BookMeetingSuccess"
    later_monday = nine + dt.timedelta(days=7)
    assert (await book_with_token(gql, one_a_day, later_monday))["__typename"] == (
        "BookMeetingSuccess"
    )
    far = await factory.person(url_prefix="far", name="Far")
    needs_notice = await make_page(gql, far, weeklyHours=hours, minimumNotice=60 * 24 * 14)

    cases = {
        "IN_THE_PAST": (slug, nine - dt.timedelta(days=14)),
        "MINIMUM_NOTICE": (needs_notice, nine),
        "BEYOND_BOOKING_WINDOW": (slug, nine + dt.timedelta(days=35)),
        "OUTSIDE_HOURS": (slug, nine + dt.timedelta(hours=4)),
        "OFF_GRID": (slug, nine + dt.timedelta(minutes=40)),
        "DAY_FULL": (one_a_day, later_monday + dt.timedelta(hours=1)),
        "TAKEN": (slug, nine),
    }
    messages = set()
    for reason, (page, start) in cases.items():
        answer = await attempt(gql, page, start)
        assert (answer["__typename"], answer["reason"], answer["field"], answer["code"]) == (
            "SlotUnavailable",
            reason,
            "start",
            "SLOT_UNAVAILABLE",
        ), (reason, answer)
        messages.add(answer["message"])
    assert len(messages) == len(cases)  # each reason says its own fix
    # The page's own numbers are in the message where they are the fix.
    notice = await attempt(gql, needs_notice, nine)
    assert "14 days" in notice["message"]
    window = await attempt(gql, slug, nine + dt.timedelta(days=35))
    assert "30 days" in window["message"]


async def test_a_reschedule_is_refused_with_the_same_reasons_as_a_booking(
    gql: GraphQLClient, factory: Factory
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    booked = await book_with_token(gql, slug, nine)
    for reason, start in (
        ("OFF_GRID", nine + dt.timedelta(minutes=5)),
        ("OUTSIDE_HOURS", nine + dt.timedelta(hours=5)),
    ):
        moved = await run(gql, MOVE, manageToken=booked["manageToken"], start=start.isoformat())
        assert (moved["__typename"], moved["reason"]) == ("SlotUnavailable", reason), moved


async def test_a_booking_form_hears_every_invalid_field_at_once(
    gql: GraphQLClient, factory: Factory
) -> None:
    _, slug, nine = await page_and_nine(gql, factory, FORM)
    answer = await attempt(
        gql,
        slug,
        nine,
        timeZone="Mars/Olympus",
        contact={"name": " ", "email": "not-an-email"},
        answers=[
            {"question": "topic", "answer": "Gossip"},
            {"question": "phone", "answer": "call me"},
            {"question": "shoe", "answer": "42"},
        ],
    )
    assert answer["__typename"] == "ValidationError", answer
    fields = [problem["field"] for problem in answer["problems"]]
    assert fields == [
        "timeZone",
        "contact.name",
        "contact.email",
        "answers.shoe",
        "answers.topic",
        "answers.phone",
        "answers.terms",
    ]
    assert (answer["field"], answer["message"]) == (
        answer["problems"][0]["field"],
        answer["problems"][0]["message"],
    )
    assert all(problem["message"] for problem in answer["problems"])
    # The answers alone, once the contact's fields are right, are all listed too.
    answers_only = await attempt(
        gql, slug, nine, answers=[{"question": "topic", "answer": "Gossip"}]
    )
    assert [p["field"] for p in answers_only["problems"]] == ["answers.topic", "answers.terms"]


async def test_a_page_form_hears_every_invalid_field_at_once(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada = await factory.person(url_prefix="ada", name="Ada")
    answer = await run(
        gql,
        CREATE_PAGE,
        token=ada.token,
        title="Intro",
        durations=[1],
        slotInterval=1,
        bookingWindowDays=0,
        timeZone="Mars/Olympus",
        formFields=[
            {"key": "Bad Key", "label": "x", "kind": "SHORT_TEXT"},
            {"key": "pick", "label": " ", "kind": "SINGLE_CHOICE", "options": ["only"]},
        ],
    )
    assert answer["__typename"] == "ValidationError", answer
    assert [p["field"] for p in answer["problems"]] == [
        "durations",
        "slotInterval",
        "bookingWindowDays",
        "timeZone",
        "formFields.0.key",
        "formFields.1.label",
        "formFields.1.options",
    ]
