"""Cross-account isolation (C9): another account's ids look exactly like unknown ids, for
every Node type, in `node(id:)` and in every mutation that takes an id."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from slotgraph.graph.relay import to_global_id
from slotgraph.models import Booking
from slotgraph.models import ConnectedDomain
from slotgraph.models import Contact
from slotgraph.models import InboxConnection
from slotgraph.models import SchedulingPage
from slotgraph.models import Task
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import InboxKind
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import CalendarSpec
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient

NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"
UPDATE_PAGE = """
mutation Update($input: UpdateSchedulingPageInput!) {
  updateSchedulingPage(input: $input) { __typename ... on Error { message field code } }
}
"""
DELETE_PAGE = """
mutation Delete($input: DeleteSchedulingPageInput!) {
  deleteSchedulingPage(input: $input) { __typename ... on Error { message field code } }
}
"""
COMPLETE_TASK = """
mutation($input: CompleteTaskInput!) {
  completeTask(input: $input) { __typename ... on Error { message field code } }
}
"""
SAVE_SETTINGS = """
mutation Save($input: UpdateCalendarSettingsInput!) {
  updateCalendarSettings(input: $input) { __typename ... on Error { message field code } }
}
"""


async def _everything(factory: Factory, person: Person) -> dict[str, int]:
    """One object of every Node type owned by `person`; type name → primary key."""
    connection, calendars = await factory.connection(person, calendars=(CalendarSpec(name="Team"),))
    page = SchedulingPage(
        account_id=person.account.id,
        user_id=person.user.id,
        title="Intro",
        description="",
        url_prefix="p",
        slug=f"p-{person.user.id}/intro",
        durations_minutes=[30],
        slot_interval_minutes=15,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        minimum_notice_minutes=0,
        booking_window_days=30,
        weekly_hours=[],
        date_overrides=[],
        form_fields=[],
    )
    domain = ConnectedDomain(
        verified_at=PROVEN,
        account_id=person.account.id,
        domain=f"meet{person.user.id}.example.test",
        robots_disallow_meetings=False,
    )
    inbox = InboxConnection(
        account_id=person.account.id,
        user_id=person.user.id,
        email=person.user.email,
        kind=InboxKind.PERSONAL,
    )
    contact = Contact(account_id=person.account.id, email="c@example.test", name="C")
    await factory.add(page, domain, inbox, contact)
    start = dt.datetime(2030, 1, 7, 10, tzinfo=dt.UTC)
    booking = Booking(
        account_id=person.account.id,
        host_user_id=person.user.id,
        page_id=page.id,
        contact_id=contact.id,
        title="Intro",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
        time_zone="UTC",
        status=BookingStatus.CONFIRMED,
        answers={},
    )
    task = Task(
        account_id=person.account.id,
        user_id=person.user.id,
        contact_id=contact.id,
        title="Follow up",
        due_at=start,
    )
    await factory.add(booking, task)
    return {
        "User": person.user.id,
        "CalendarSettings": person.user.id,
        "SchedulingPage": page.id,
        "ConnectedDomain": domain.id,
        "InboxConnection": inbox.id,
        "CalendarConnection": connection.id,
        "RemoteCalendar": calendars[1].id,
        "Booking": booking.id,
        "Contact": contact.id,
        "Task": task.id,
    }


@pytest.fixture
async def two_accounts(factory: Factory) -> tuple[Person, dict[str, int], dict[str, int]]:
    ada = await factory.person(name="Ada")
    bob = await factory.person(name="Bob")
    return ada, await _everything(factory, ada), await _everything(factory, bob)


async def test_every_node_type_is_visible_to_its_owner_and_null_to_others(
    gql: GraphQLClient, two_accounts: tuple[Person, dict[str, int], dict[str, int]]
) -> None:
    ada, mine, theirs = two_accounts
    for type_name, pk in mine.items():
        own_id = to_global_id(type_name, pk)
        assert await gql(NODE, {"id": own_id}, token=ada.token) == {
            "data": {"node": {"__typename": type_name, "id": own_id}}
        }
    for type_name, pk in theirs.items():
        foreign = await gql(NODE, {"id": to_global_id(type_name, pk)}, token=ada.token)
        unknown = await gql(NODE, {"id": to_global_id(type_name, 10**12)}, token=ada.token)
        assert foreign == unknown == {"data": {"node": None}}, type_name


async def test_garbage_and_anonymous_node_lookups_are_null(
    gql: GraphQLClient, two_accounts: tuple[Person, dict[str, int], dict[str, int]]
) -> None:
    ada, mine, _ = two_accounts
    for garbage in ("", "not-base64!", to_global_id("Nope", 1), "VXNlcjotMQ=="):
        assert await gql(NODE, {"id": garbage}, token=ada.token) == {"data": {"node": None}}
    page_id = to_global_id("SchedulingPage", mine["SchedulingPage"])
    assert await gql(NODE, {"id": page_id}) == {"data": {"node": None}}


async def test_mutations_answer_not_found_for_foreign_and_unknown_ids_alike(
    gql: GraphQLClient,
    factory: Factory,
    two_accounts: tuple[Person, dict[str, int], dict[str, int]],
) -> None:
    ada, _, theirs = two_accounts
    await factory.connection(ada)

    async def both(operation: str, key: str, build: Any, type_name: str) -> None:
        foreign = await gql(
            operation, build(to_global_id(type_name, theirs[type_name])), token=ada.token
        )
        unknown = await gql(operation, build(to_global_id(type_name, 10**12)), token=ada.token)
        assert foreign == unknown, key
        assert foreign["data"][key]["__typename"] == "NotFound", (key, foreign)

    await both(
        UPDATE_PAGE,
        "updateSchedulingPage",
        lambda i: {"input": {"id": i, "title": "Mine now"}},
        "SchedulingPage",
    )
    await both(
        DELETE_PAGE, "deleteSchedulingPage", lambda i: {"input": {"id": i}}, "SchedulingPage"
    )
    await both(
        SAVE_SETTINGS,
        "updateCalendarSettings",
        lambda i: {"input": {"defaultMeetingPageId": i}},
        "SchedulingPage",
    )
    await both(
        SAVE_SETTINGS,
        "updateCalendarSettings",
        lambda i: {"input": {"chatPageId": i, "chatLinkEnabled": True}},
        "SchedulingPage",
    )
    await both(
        SAVE_SETTINGS,
        "updateCalendarSettings",
        lambda i: {"input": {"meetingDomainId": i}},
        "ConnectedDomain",
    )
    await both(
        SAVE_SETTINGS,
        "updateCalendarSettings",
        lambda i: {"input": {"availabilityCalendarIds": [i]}},
        "RemoteCalendar",
    )
    await both(
        SAVE_SETTINGS,
        "updateCalendarSettings",
        lambda i: {"input": {"connections": [{"connectionId": i, "calendarSyncEnabled": False}]}},
        "CalendarConnection",
    )
    await both(COMPLETE_TASK, "completeTask", lambda i: {"input": {"taskId": i}}, "Task")


async def test_lists_show_only_the_viewers_objects(
    gql: GraphQLClient, two_accounts: tuple[Person, dict[str, int], dict[str, int]]
) -> None:
    ada, mine, _ = two_accounts
    result = await gql(
        """query { viewer {
            schedulingPages { edges { node { id } } }
            bookings { edges { node { id contact { name } } } }
            calendarConnections { edges { node { id remoteCalendars { name } } } }
            connectedDomains { id }
            inboxConnections { id }
            tasks { edges { node { id contact { name } } } }
        } }""",
        token=ada.token,
    )
    viewer = result["data"]["viewer"]
    assert viewer == {
        "schedulingPages": {
            "edges": [{"node": {"id": to_global_id("SchedulingPage", mine["SchedulingPage"])}}]
        },
        "bookings": {
            "edges": [
                {"node": {"id": to_global_id("Booking", mine["Booking"]), "contact": {"name": "C"}}}
            ]
        },
        "calendarConnections": {
            "edges": [
                {
                    "node": {
                        "id": to_global_id("CalendarConnection", mine["CalendarConnection"]),
                        "remoteCalendars": [{"name": "Ada"}, {"name": "Team"}],
                    }
                }
            ]
        },
        "connectedDomains": [{"id": to_global_id("ConnectedDomain", mine["ConnectedDomain"])}],
        "inboxConnections": [{"id": to_global_id("InboxConnection", mine["InboxConnection"])}],
        "tasks": {
            "edges": [
                {"node": {"id": to_global_id("Task", mine["Task"]), "contact": {"name": "C"}}}
            ]
        },
    }
