"""Scheduling page mutations: typed errors, slug rules (S14, S15), pagination, deletion."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.graph.relay import to_global_id
from slotgraph.models import SchedulingPage
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient

PAGE_FIELDS = """
  id title slug url urlPrefix description durations slotInterval bufferBefore bufferAfter
  minimumNotice bookingWindowDays maxMeetingsPerDay timeZone
  weeklyHours { weekday start end } dateOverrides { date intervals }
  formFields { key label kind required options }
"""
RESULT = """
  __typename
  ... on Error { message field code }
  ... on SlugTaken { suggestion }
"""
CREATE = f"""
mutation Create($input: CreateSchedulingPageInput!) {{
  createSchedulingPage(input: $input) {{
    {RESULT}
    ... on CreateSchedulingPageSuccess {{ page {{ {PAGE_FIELDS} }} }}
  }}
}}
"""
UPDATE = f"""
mutation Update($input: UpdateSchedulingPageInput!) {{
  updateSchedulingPage(input: $input) {{
    {RESULT}
    ... on UpdateSchedulingPageSuccess {{ page {{ {PAGE_FIELDS} }} }}
  }}
}}
"""
DELETE = """
mutation Delete($input: DeleteSchedulingPageInput!) {
  deleteSchedulingPage(input: $input) {
    __typename
    ... on Error { message field code }
    ... on DeleteSchedulingPageSuccess { deletedId }
  }
}
"""
LIST = """
query List($first: Int!, $after: String) {
  viewer { schedulingPages(first: $first, after: $after) {
    edges { cursor node { title } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  } }
}
"""
SAVE_PREFIX = """
mutation Save($prefix: String!) {
  updateCalendarSettings(input: {meetingUrlPrefix: $prefix}) { __typename }
}
"""


@pytest.fixture
async def ada(factory: Factory) -> Person:
    return await factory.person(name="Ada", url_prefix="ada")


async def create(gql: GraphQLClient, person: Person, **fields: Any) -> dict[str, Any]:
    result = await gql(CREATE, {"input": fields}, token=person.token)
    payload: dict[str, Any] = result["data"]["createSchedulingPage"]
    return payload


async def test_create_fills_sensible_defaults(gql: GraphQLClient, ada: Person) -> None:
    payload = await create(gql, ada, title="Intro call (30 min)")
    page = payload["page"]
    assert page == {
        "id": page["id"],
        "title": "Intro call (30 min)",
        "slug": "ada/intro-call-30-min",
        "url": f"{PUBLIC_BASE_URL}/meetings/ada/intro-call-30-min",
        "urlPrefix": "ada",
        "description": "",
        "durations": [30],
        "slotInterval": 15,
        "bufferBefore": 0,
        "bufferAfter": 0,
        "minimumNotice": 0,
        "bookingWindowDays": 60,
        "maxMeetingsPerDay": None,
        "timeZone": None,
        "weeklyHours": [
            {"weekday": day, "start": "09:00", "end": "17:00"}
            for day in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")
        ],
        "dateOverrides": [],
        "formFields": [],  # name and email are always asked; nothing else by default
    }


async def test_create_stores_every_rule_given(gql: GraphQLClient, ada: Person) -> None:
    payload = await create(
        gql,
        ada,
        title="Demo",
        name="Product-Demo",
        durations=[60, 30, 30],
        slotInterval=30,
        bufferBefore=5,
        bufferAfter=10,
        minimumNotice=120,
        bookingWindowDays=14,
        maxMeetingsPerDay=3,
        timeZone="America/New_York",
        weeklyHours=[
            {"weekday": "TUESDAY", "start": "13:00", "end": "24:00"},
            {"weekday": "MONDAY", "start": "09:00", "end": "12:00"},
        ],
        dateOverrides=[
            {"date": "2030-12-24", "intervals": []},
            {"date": "2030-12-23", "intervals": [["10:00", "11:30"]]},
        ],
    )
    page = payload["page"]
    assert (page["slug"], page["durations"], page["maxMeetingsPerDay"], page["timeZone"]) == (
        "ada/product-demo",
        [30, 60],
        3,
        "America/New_York",
    )
    assert page["weeklyHours"] == [
        {"weekday": "MONDAY", "start": "09:00", "end": "12:00"},
        {"weekday": "TUESDAY", "start": "13:00", "end": "24:00"},
    ]
    assert page["dateOverrides"] == [
        {"date": "2030-12-23", "intervals": [["10:00", "11:30"]]},
        {"date": "2030-12-24", "intervals": []},
    ]


@pytest.mark.parametrize(
    ("fields", "field", "message_part"),
    [
        ({"title": "  "}, "title", "1 to 200 characters"),
        ({"title": "x", "name": "-bad-"}, "name", "lowercase letters"),
        ({"title": "x", "name": "a/b"}, "name", "lowercase letters"),
        ({"title": "x", "durations": []}, "durations", "at least one"),
        ({"title": "x", "durations": [3]}, "durations", "5 to 720"),
        ({"title": "x", "slotInterval": 0}, "slotInterval", "between 5 and 240"),
        ({"title": "x", "bookingWindowDays": 0}, "bookingWindowDays", "between 1 and 730"),
        ({"title": "x", "timeZone": "Mars/Olympus"}, "timeZone", "IANA time zone"),
        (
            {
                "title": "x",
                "weeklyHours": [{"weekday": "MONDAY", "start": "17:00", "end": "09:00"}],
            },
            "weeklyHours",
            "ends before",
        ),
        (
            {
                "title": "x",
                "weeklyHours": [
                    {"weekday": "MONDAY", "start": "09:00", "end": "12:00"},
                    {"weekday": "MONDAY", "start": "11:00", "end": "13:00"},
                ],
            },
            "weeklyHours",
            "overlap",
        ),
        (
            {"title": "x", "weeklyHours": [{"weekday": "MONDAY", "start": "9am", "end": "12:00"}]},
            "weeklyHours",
            "HH:MM",
        ),
        (
            {
                "title": "x",
                "dateOverrides": [
                    {"date": "2030-01-01", "intervals": []},
                    {"date": "2030-01-01", "intervals": []},
                ],
            },
            "dateOverrides",
            "appears twice",
        ),
        ({"title": "x", "description": None}, "description", "Omit the field"),
    ],
)
async def test_create_refuses_bad_input_with_a_validation_error(
    gql: GraphQLClient, ada: Person, fields: dict[str, Any], field: str, message_part: str
) -> None:
    payload = await create(gql, ada, **fields)
    assert payload["__typename"] == "ValidationError", payload
    assert (payload["field"], payload["code"]) == (field, "VALIDATION")
    assert message_part in payload["message"]
    listed = await gql(LIST, {"first": 10}, token=ada.token)
    assert listed["data"]["viewer"]["schedulingPages"]["edges"] == []


COMPANY = {"key": "company", "label": "Company", "kind": "SHORT_TEXT", "required": True}
SIZE = {
    "key": "team_size",
    "label": "Team size",
    "kind": "SINGLE_CHOICE",
    "options": ["1-10", " 11-50 "],
}
TERMS = {"key": "terms", "label": "  I accept the terms  ", "kind": "CHECKBOX", "required": True}


async def test_form_fields_are_kept_in_order_and_replaced_as_a_whole(
    gql: GraphQLClient, ada: Person
) -> None:
    payload = await create(gql, ada, title="Demo", formFields=[COMPANY, SIZE, TERMS])
    page = payload["page"]
    assert page["formFields"] == [
        {**COMPANY, "options": []},
        {**SIZE, "required": False, "options": ["1-10", "11-50"]},  # trimmed
        {**TERMS, "label": "I accept the terms", "options": []},
    ]
    kept = await gql(UPDATE, {"input": {"id": page["id"], "title": "Demo 2"}}, token=ada.token)
    assert kept["data"]["updateSchedulingPage"]["page"]["formFields"] == page["formFields"]
    phone = {"key": "phone", "label": "Phone", "kind": "PHONE"}
    replaced = await gql(
        UPDATE, {"input": {"id": page["id"], "formFields": [phone]}}, token=ada.token
    )
    assert replaced["data"]["updateSchedulingPage"]["page"]["formFields"] == [
        {**phone, "required": False, "options": []}
    ]
    cleared = await gql(UPDATE, {"input": {"id": page["id"], "formFields": []}}, token=ada.token)
    assert cleared["data"]["updateSchedulingPage"]["page"]["formFields"] == []


@pytest.mark.parametrize(
    ("form_fields", "expected"),
    [
        (
            [COMPANY, {**SIZE, "key": "Team Size"}],
            {
                "field": "formFields.1.key",
                "message": "'Team Size' is not a key; use 1 to 40 lowercase letters, digits, "
                "'-' or '_', starting with a letter, e.g. 'company'",
            },
        ),
        (
            [COMPANY, TERMS, {**COMPANY, "label": "Firm"}],
            {
                "field": "formFields.2.key",
                "message": "the key 'company' is used twice; keys are unique",
            },
        ),
        (
            [{**COMPANY, "key": "email"}],
            {
                "field": "formFields.0.key",
                "message": "name and email are always asked; leave them out of the form fields",
            },
        ),
        (
            [{**COMPANY, "label": "   "}],
            {"field": "formFields.0.label", "message": "give a label of 1 to 200 characters"},
        ),
        (
            [{**SIZE, "options": ["1-10"]}],
            {"field": "formFields.0.options", "message": "give 2 to 20 options to choose from"},
        ),
        (
            [{**SIZE, "options": ["a", " a"]}],
            {"field": "formFields.0.options", "message": "each option appears once"},
        ),
        (
            [{**COMPANY, "options": ["a", "b"]}],
            {"field": "formFields.0.options", "message": "only SINGLE_CHOICE fields take options"},
        ),
        (
            [{**COMPANY, "key": f"q{index}"} for index in range(21)],
            {"field": "formFields", "message": "at most 20 form fields"},
        ),
    ],
)
async def test_bad_form_fields_are_refused_naming_the_item(
    gql: GraphQLClient, ada: Person, form_fields: list[dict[str, Any]], expected: dict[str, str]
) -> None:
    assert await create(gql, ada, title="x", formFields=form_fields) == {
        "__typename": "ValidationError",
        "code": "VALIDATION",
        **expected,
    }
    page = (await create(gql, ada, title="Kept", formFields=[COMPANY]))["page"]
    update = {"id": page["id"], "title": "Changed", "formFields": form_fields}
    refused = await gql(UPDATE, {"input": update}, token=ada.token)
    assert refused["data"]["updateSchedulingPage"]["field"] == expected["field"]
    listed = await gql(LIST, {"first": 10}, token=ada.token)
    assert listed["data"]["viewer"]["schedulingPages"]["edges"] == [
        {
            "cursor": listed["data"]["viewer"]["schedulingPages"]["edges"][0]["cursor"],
            "node": {"title": "Kept"},
        }
    ]  # the refused create left nothing, the refused update changed nothing


async def test_slug_is_unique_across_accounts_and_domains(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada = await factory.person(name="Ada", url_prefix="sales")
    bob = await factory.person(name="Bob", url_prefix="sales")
    assert (await create(gql, ada, title="Intro"))["__typename"] == "CreateSchedulingPageSuccess"
    taken = await create(gql, bob, title="Intro")
    assert taken == {
        "__typename": "SlugTaken",
        "message": "The meeting link '/meetings/sales/intro' is already in use on some domain "
        "(links are unique across all domains); try 'intro-2'.",
        "field": "name",
        "code": "SLUG_TAKEN",
        "suggestion": "intro-2",
    }
    again = await create(gql, bob, title="Intro", name="INTRO-2")
    assert again["page"]["slug"] == "sales/intro-2"
    third = await create(gql, ada, title="Intro")
    assert third["suggestion"] == "intro-3"


async def test_prefix_change_applies_to_new_pages_only(
    gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    await factory.connection(ada)  # the prefix is managed once a calendar is connected (C6)
    old = (await create(gql, ada, title="Old"))["page"]
    saved = await gql(SAVE_PREFIX, {"prefix": "ada-lovelace"}, token=ada.token)
    assert saved == {
        "data": {"updateCalendarSettings": {"__typename": "UpdateCalendarSettingsSuccess"}}
    }
    new = (await create(gql, ada, title="New"))["page"]
    assert (old["slug"], new["slug"]) == ("ada/old", "ada-lovelace/new")
    renamed = await gql(UPDATE, {"input": {"id": old["id"], "name": "older"}}, token=ada.token)
    assert renamed["data"]["updateSchedulingPage"]["page"]["slug"] == "ada/older"


async def test_update_changes_only_what_is_sent(gql: GraphQLClient, ada: Person) -> None:
    page = (await create(gql, ada, title="Intro", durations=[15, 30]))["page"]
    result = await gql(
        UPDATE,
        {"input": {"id": page["id"], "title": "Hello", "maxMeetingsPerDay": 2}},
        token=ada.token,
    )
    updated = result["data"]["updateSchedulingPage"]["page"]
    assert updated == {**page, "title": "Hello", "maxMeetingsPerDay": 2}
    cleared = await gql(
        UPDATE, {"input": {"id": page["id"], "maxMeetingsPerDay": None}}, token=ada.token
    )
    assert cleared["data"]["updateSchedulingPage"]["page"]["maxMeetingsPerDay"] is None


async def test_update_to_a_taken_name_changes_nothing(gql: GraphQLClient, ada: Person) -> None:
    first = (await create(gql, ada, title="One"))["page"]
    await create(gql, ada, title="Two")
    result = await gql(
        UPDATE, {"input": {"id": first["id"], "name": "two", "title": "Changed"}}, token=ada.token
    )
    assert result["data"]["updateSchedulingPage"]["__typename"] == "SlugTaken"
    node = await gql(
        "query($id: ID!) { node(id: $id) { ... on SchedulingPage { title slug } } }",
        {"id": first["id"]},
        token=ada.token,
    )
    assert node == {"data": {"node": {"title": "One", "slug": "ada/one"}}}


async def test_delete_removes_the_page_and_clears_settings_pointing_at_it(
    gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    await factory.connection(ada)
    page = (await create(gql, ada, title="Intro"))["page"]
    saved = await gql(
        """mutation($id: ID!) { updateCalendarSettings(input: {defaultMeetingPageId: $id,
           chatLinkEnabled: true, chatPageId: $id}) { __typename } }""",
        {"id": page["id"]},
        token=ada.token,
    )
    assert saved["data"]["updateCalendarSettings"]["__typename"] == "UpdateCalendarSettingsSuccess"
    deleted = await gql(DELETE, {"input": {"id": page["id"]}}, token=ada.token)
    assert deleted == {
        "data": {
            "deleteSchedulingPage": {
                "__typename": "DeleteSchedulingPageSuccess",
                "deletedId": page["id"],
            }
        }
    }
    settings = await gql(
        "{ viewer { calendarSettings { defaultMeetingPage { id } chatPage { id } "
        "chatLinkEnabled } } }",
        token=ada.token,
    )
    assert settings["data"]["viewer"]["calendarSettings"] == {
        "defaultMeetingPage": None,
        "chatPage": None,
        "chatLinkEnabled": False,
    }
    again = await gql(DELETE, {"input": {"id": page["id"]}}, token=ada.token)
    assert again["data"]["deleteSchedulingPage"]["__typename"] == "NotFound"


async def test_pages_paginate_with_cursors(gql: GraphQLClient, ada: Person) -> None:
    for n in range(5):
        await create(gql, ada, title=f"Page {n}")
    first = (await gql(LIST, {"first": 2}, token=ada.token))["data"]["viewer"]["schedulingPages"]
    assert [e["node"]["title"] for e in first["edges"]] == ["Page 0", "Page 1"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    rest = (
        await gql(LIST, {"first": 10, "after": first["pageInfo"]["endCursor"]}, token=ada.token)
    )["data"]["viewer"]["schedulingPages"]
    assert [e["node"]["title"] for e in rest["edges"]] == ["Page 2", "Page 3", "Page 4"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True


async def test_page_size_and_cursor_are_validated(gql: GraphQLClient, ada: Person) -> None:
    too_many = await gql(LIST, {"first": 101}, token=ada.token)
    assert too_many["errors"][0]["message"] == "`first` must be 0 to 100."
    assert too_many["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "first"}
    bad_cursor = await gql(LIST, {"first": 1, "after": "garbage"}, token=ada.token)
    assert bad_cursor["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "after"}


async def test_node_refetches_a_page_with_its_link(
    gql: GraphQLClient, ada: Person, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    page = (await create(gql, ada, title="Intro"))["page"]
    node = await gql(
        "query($id: ID!) { node(id: $id) { ... on SchedulingPage { url } } }",
        {"id": page["id"]},
        token=ada.token,
    )
    assert node == {"data": {"node": {"url": f"{PUBLIC_BASE_URL}/meetings/ada/intro"}}}
    async with sessionmaker() as session:
        row_id = (await session.execute(select(SchedulingPage.id))).scalar_one()
    assert page["id"] == to_global_id("SchedulingPage", row_id)
