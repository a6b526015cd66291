"""Task sync (S10, C9, C11): tasks created, edited, completed and deleted over GraphQL, and
their events in the "Slotgraph tasks" sub-calendar of a Google account connected through
the real consent flow, written by the outbox (kind TASK_EVENT) through the real Google
adapter against the Google fake."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.graph.relay import from_global_id
from slotgraph.graph.relay import to_global_id
from slotgraph.jobs.deliveries.task_events import post_task_event
from slotgraph.jobs.task_events import TASK_CALENDAR_NAME
from slotgraph.models import Contact
from slotgraph.models import OutboxMessage
from slotgraph.models import Task
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from tests.fakes.google import FakeGoogle
from tests.helpers import google_app
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.google_app import GoogleFlow
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import eventually
from tests.helpers.jobs import make_due
from tests.helpers.jobs import make_outbox
from tests.helpers.jobs import pending_deliveries
from tests.helpers.tasks import COMPLETE
from tests.helpers.tasks import DELETE
from tests.helpers.tasks import DUE
from tests.helpers.tasks import TASK_FIELDS
from tests.helpers.tasks import TOGGLE
from tests.helpers.tasks import create
from tests.helpers.tasks import task_sync

# The Google fixtures of the connect tests: the fake, the app configured against it, the
# consent flow.
app = google_app.app
browser = google_app.browser
flow = google_app.flow

UPDATE = f"""
mutation($input: UpdateTaskInput!) {{ updateTask(input: $input) {{
  __typename ... on TaskSuccess {{ task {{ {TASK_FIELDS} }} }} ... on Error {{ message field code }}
}} }}
"""
TASKS = f"""
query($first: Int!, $after: String) {{ viewer {{ tasks(first: $first, after: $after) {{
  edges {{ node {{ {TASK_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }}
}} }} }}
"""
NODE = "query($id: ID!) { node(id: $id) { __typename ... on Task { title } } }"
CALENDARS = """
{ viewer { calendarConnections { edges { node { remoteCalendars {
  id name isPrimary isTaskCalendar isAvailabilityCalendar
} } } } } }
"""
SET_AVAILABILITY = """
mutation($ids: [ID!]!) { setAvailabilityCalendars(input: {calendarIds: $ids}) {
  __typename ... on Error { message field code }
} }
"""


@dataclass
class World:
    """A Google account connected through the consent flow against the fake, the API over
    HTTP, and the outbox delivering as a worker would."""

    gql: GraphQLClient
    factory: Factory
    flow: GoogleFlow
    google: FakeGoogle
    app: Starlette
    sessionmaker: async_sessionmaker[AsyncSession]

    async def connect(self) -> tuple[Person, str]:
        """A user connected to Google: (person, connection id)."""
        ada = await self.factory.person()
        landed = await self.flow.connect(ada)
        return ada, landed["calendarConnection"]

    async def syncing(self) -> Person:
        """A connected user with task sync on."""
        ada, connection = await self.connect()
        assert await task_sync(self.gql, ada, connection, True) == (
            "UpdateCalendarConnectionSuccess"
        )
        return ada

    async def deliver(self) -> int:
        return await pending_deliveries(self.app, self.sessionmaker)


@pytest.fixture
def world(
    gql: GraphQLClient,
    factory: Factory,
    flow: GoogleFlow,
    google: FakeGoogle,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> World:
    return World(gql, factory, flow, google, app, sessionmaker)


def task_calendars(google: FakeGoogle) -> list[str]:
    return [
        c.id for c in google.calendars.values() if c.summary == TASK_CALENDAR_NAME and not c.deleted
    ]


def events(google: FakeGoogle) -> list[dict[str, Any]]:
    """The task calendar's live events, as Google stores them (summary, times, transparency)."""
    (calendar_id,) = task_calendars(google)
    return [
        {
            "summary": event["summary"],
            "start": dt.datetime.fromisoformat(event["start"]["dateTime"]),
            "end": dt.datetime.fromisoformat(event["end"]["dateTime"]),
            "transparency": event.get("transparency"),
        }
        for event in google.calendars[calendar_id].events.values()
        if event.get("status") != "cancelled"
    ]


def event(summary: str, start: dt.datetime) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": start,
        "end": start + dt.timedelta(minutes=30),
        "transparency": "transparent",
    }


async def task_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Task]:
    async with sessionmaker() as session:
        return list((await session.execute(select(Task).order_by(Task.id))).scalars())


async def test_a_task_with_a_due_date_becomes_a_free_event_in_a_task_calendar_made_once(
    world: World,
) -> None:
    gql, google = world.gql, world.google
    ada, connection = await world.connect()
    assert await task_sync(gql, ada, connection, True) == "UpdateCalendarConnectionSuccess"
    contact = Contact(account_id=ada.account.id, email="cleo@example.test", name="Cleo")
    await world.factory.add(contact)

    created = await create(
        gql,
        ada,
        title="Call Cleo",
        dueAt=DUE.isoformat(),
        contactId=to_global_id("Contact", contact.id),
    )
    assert created["__typename"] == "TaskSuccess", created
    task_id = created["task"].pop("id")
    assert created["task"] == {
        "title": "Call Cleo",
        "dueAt": DUE.isoformat(),
        "completedAt": None,
        "onCalendar": False,
        "contact": {"name": "Cleo"},
    }
    assert task_calendars(google) == []  # nothing written before the commit's delivery

    assert await world.deliver() == 1
    assert events(google) == [event("Call Cleo", DUE)]
    later = DUE + dt.timedelta(days=1)
    await create(gql, ada, title="Send the offer", dueAt=later.isoformat())
    await world.deliver()

    assert len(task_calendars(google)) == 1  # created on first use only
    assert len(google.calls("calendars.insert")) == 1
    assert events(google) == [event("Call Cleo", DUE), event("Send the offer", later)]
    listed = await gql(TASKS, {"first": 1}, token=ada.token)
    page = listed["data"]["viewer"]["tasks"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [task_id]
    assert page["edges"][0]["node"]["onCalendar"] is True
    assert page["pageInfo"]["hasNextPage"] is True

    # The task calendar is listed as such and never offered for availability.
    calendars = (await gql(CALENDARS, token=ada.token))["data"]["viewer"]
    remote = calendars["calendarConnections"]["edges"][0]["node"]["remoteCalendars"]
    (task_calendar,) = [c for c in remote if c["isTaskCalendar"]]
    assert (task_calendar["name"], task_calendar["isAvailabilityCalendar"]) == (
        TASK_CALENDAR_NAME,
        False,
    )
    refused = await gql(SET_AVAILABILITY, {"ids": [task_calendar["id"]]}, token=ada.token)
    assert refused["data"]["setAvailabilityCalendars"]["__typename"] == "ValidationError"


async def test_editing_completing_and_deleting_a_task_update_and_remove_its_event(
    world: World,
) -> None:
    gql, google, sessionmaker = world.gql, world.google, world.sessionmaker
    ada = await world.syncing()
    task_id = (await create(gql, ada, title="Call Cleo", dueAt=DUE.isoformat()))["task"]["id"]
    await world.deliver()

    moved = DUE + dt.timedelta(hours=2)
    edited = await gql(
        UPDATE,
        {"input": {"taskId": task_id, "title": "Call Cleo back", "dueAt": moved.isoformat()}},
        token=ada.token,
    )
    assert edited["data"]["updateTask"]["task"]["dueAt"] == moved.isoformat()
    await world.deliver()
    assert events(google) == [event("Call Cleo back", moved)]

    done = await gql(COMPLETE, {"input": {"taskId": task_id}}, token=ada.token)
    assert done["data"]["completeTask"]["alreadyCompleted"] is False
    again = await gql(COMPLETE, {"input": {"taskId": task_id}}, token=ada.token)
    assert again["data"]["completeTask"]["alreadyCompleted"] is True
    await world.deliver()
    assert events(google) == [event("✓ Call Cleo back", moved)]

    deleted = await gql(DELETE, {"input": {"taskId": task_id}}, token=ada.token)
    assert deleted == {
        "data": {"deleteTask": {"__typename": "DeleteTaskSuccess", "deletedTaskId": task_id}}
    }
    assert await gql(NODE, {"id": task_id}, token=ada.token) == {"data": {"node": None}}
    await world.deliver()
    assert events(google) == []
    assert await task_rows(sessionmaker) == []  # the row went once its event was gone


async def test_a_task_without_a_due_date_has_no_event_and_clearing_it_removes_the_event(
    world: World,
) -> None:
    gql, google = world.gql, world.google
    ada = await world.syncing()
    undated = await create(gql, ada, title="Someday")
    assert undated["task"]["dueAt"] is None
    await world.deliver()
    assert google.calls("events.insert") == []
    assert google.calls("calendars.insert") == []

    task_id = undated["task"]["id"]
    await gql(UPDATE, {"input": {"taskId": task_id, "dueAt": DUE.isoformat()}}, token=ada.token)
    await world.deliver()
    assert events(google) == [event("Someday", DUE)]
    await gql(UPDATE, {"input": {"taskId": task_id, "dueAt": None}}, token=ada.token)
    await world.deliver()
    assert events(google) == []

    # A due date again: a new event, although Google keeps the deleted one's id reserved.
    await gql(UPDATE, {"input": {"taskId": task_id, "dueAt": DUE.isoformat()}}, token=ada.token)
    await world.deliver()
    assert events(google) == [event("Someday", DUE)]


async def test_with_task_sync_off_nothing_is_written_and_turning_it_on_and_off_follows(
    world: World,
) -> None:
    gql, google, sessionmaker = world.gql, world.google, world.sessionmaker
    ada, connection = await world.connect()
    await create(gql, ada, title="Open", dueAt=DUE.isoformat())
    done = await create(gql, ada, title="Done", dueAt=DUE.isoformat())
    await gql(COMPLETE, {"input": {"taskId": done["task"]["id"]}}, token=ada.token)
    await create(gql, ada, title="Undated")
    assert await world.deliver() == 0  # off: not even a delivery is posted
    assert google.calls("calendars.insert") == []

    await task_sync(gql, ada, connection, True)
    await world.deliver()
    assert events(google) == [event("Open", DUE)]  # backfill: open tasks with due dates

    # Off removes the events (a stale copy would show tasks done since as open).
    assert await task_sync(gql, ada, connection, False) == "UpdateCalendarConnectionSuccess"
    await world.deliver()
    assert events(google) == []
    await create(gql, ada, title="Later", dueAt=DUE.isoformat())
    assert await world.deliver() == 0
    assert [task.remote_event_id for task in await task_rows(sessionmaker)] == [None] * 4


async def two_deliveries_of_one_task(
    world: World, ada: Person
) -> tuple[OutboxMessage, OutboxMessage]:
    """A task created over the API (its delivery row) and a second row for the same task."""
    await create(world.gql, ada, title="Call Cleo", dueAt=DUE.isoformat())
    async with world.sessionmaker() as session:
        (message,) = (await session.execute(select(OutboxMessage))).scalars()
    async with world.sessionmaker.begin() as session:
        task = await session.get_one(Task, message.payload["task_id"])
        second = await post_task_event(session, task)
    return message, second


IDLE_IN_TRANSACTION = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND state LIKE 'idle in transaction%'
"""


async def test_no_transaction_stays_open_while_the_task_calendar_is_created(
    world: World,
) -> None:
    # The provider call may take ~30 s with its retries: two deliveries still take turns
    # (one calendar), but neither holds a transaction open meanwhile (review finding A).
    google, sessionmaker = world.google, world.sessionmaker
    ada = await world.syncing()
    message, second = await two_deliveries_of_one_task(world, ada)
    google.fail("slow", operation="calendars.insert", delay=1.0)
    outbox = make_outbox(world.app)
    both = asyncio.gather(outbox.deliver(message.id), outbox.deliver(second.id))

    async def in_flight() -> bool:
        return bool(google.calls("calendars.insert"))

    await eventually(in_flight)
    async with sessionmaker() as session:
        assert (await session.execute(text(IDLE_IN_TRANSACTION))).scalar_one() == 0
    outcomes = await both
    assert [outcome.state for outcome in outcomes] == [OutboxState.DONE, OutboxState.DONE]
    assert len(task_calendars(google)) == 1
    assert len(google.calls("calendars.insert")) == 1


async def test_a_retried_or_doubled_delivery_creates_no_second_event(
    world: World,
) -> None:
    google, sessionmaker = world.google, world.sessionmaker
    ada = await world.syncing()
    # Two deliveries of one task at once (two rows, two workers): the same idempotency key.
    message, second = await two_deliveries_of_one_task(world, ada)
    assert message.kind is OutboxKind.TASK_EVENT
    outbox = make_outbox(world.app)
    outcomes = await asyncio.gather(outbox.deliver(message.id), outbox.deliver(second.id))
    assert [outcome.state for outcome in outcomes] == [OutboxState.DONE, OutboxState.DONE]
    assert events(google) == [event("Call Cleo", DUE)]

    # A worker that created the event but died before recording it: the retry finds it.
    async with sessionmaker.begin() as session:
        await session.execute(update(Task).values(remote_event_id=None, remote_calendar_id=None))
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(state=OutboxState.PENDING, available_at=text("now()"))
        )
    await world.deliver()
    assert events(google) == [event("Call Cleo", DUE)]
    (task,) = await task_rows(sessionmaker)
    (calendar_id,) = task_calendars(google)
    assert list(google.calendars[calendar_id].events) == [task.remote_event_id]


async def test_a_task_calendar_deleted_at_google_is_made_again_on_the_next_delivery(
    world: World,
) -> None:
    gql, google = world.gql, world.google
    ada = await world.syncing()
    task_id = (await create(gql, ada, title="Call Cleo", dueAt=DUE.isoformat()))["task"]["id"]
    await world.deliver()
    (first_calendar,) = task_calendars(google)
    google.delete_calendar(first_calendar)

    await gql(UPDATE, {"input": {"taskId": task_id, "title": "Call Cleo now"}}, token=ada.token)
    async with world.sessionmaker() as session:
        (pending,) = (
            await session.execute(
                select(OutboxMessage.id).where(OutboxMessage.state == OutboxState.PENDING)
            )
        ).scalars()
    failed = await make_outbox(world.app).deliver(pending)
    assert (failed.state, failed.error) == (
        OutboxState.PENDING,
        "The 'Slotgraph tasks' calendar was deleted at the provider; a new one is made on retry.",
    )
    await make_due(world.sessionmaker)
    await world.deliver()

    (second_calendar,) = task_calendars(google)
    assert second_calendar != first_calendar
    assert events(google) == [event("Call Cleo now", DUE)]


async def test_task_sync_is_refused_on_exchange_and_caldav_and_without_a_qualifying_seat(
    gql: GraphQLClient, factory: Factory
) -> None:
    for provider in (Provider.EXCHANGE, Provider.CALDAV):  # C11, C44
        pro = await factory.person(seat=Seat.SALES, tier=Tier.PROFESSIONAL)
        connection, _ = await factory.connection(pro, provider=provider)
        connection_id = to_global_id("CalendarConnection", connection.id)
        refused = await gql(
            TOGGLE,
            {"input": {"connectionId": connection_id, "taskSyncEnabled": True}},
            token=pro.token,
        )
        assert refused["data"]["updateCalendarConnection"] == {
            "__typename": "ProviderLimitation",
            "message": "Task sync is offered for Google and Microsoft 365 calendars only.",
            "field": "taskSyncEnabled",
            "code": "PROVIDER_LIMITATION",
        }
    starter = await factory.person(seat=Seat.SALES, tier=Tier.STARTER)
    google_connection, _ = await factory.connection(starter)
    assert (
        await task_sync(
            gql, starter, to_global_id("CalendarConnection", google_connection.id), True
        )
        == "SeatRequired"
    )


@pytest.mark.parametrize("operation", ["update", "complete", "delete"])
async def test_another_users_task_is_not_found_like_an_unknown_one(
    gql: GraphQLClient, factory: Factory, operation: str
) -> None:
    ada = await factory.person(name="Ada")
    bob = await factory.person(name="Bob")
    theirs = (await create(gql, bob, title="Bob's", dueAt=DUE.isoformat()))["task"]["id"]
    decoded = from_global_id(theirs)
    assert decoded is not None
    unknown = to_global_id("Task", decoded[1] + 1000)
    query, variables = {
        "update": (UPDATE, {"title": "Mine now"}),
        "complete": (COMPLETE, {}),
        "delete": (DELETE, {}),
    }[operation]
    field = f"{operation}Task"
    answers = [
        (await gql(query, {"input": {"taskId": task_id, **variables}}, token=ada.token))["data"][
            field
        ]
        for task_id in (theirs, unknown)
    ]
    assert (
        answers[0]
        == answers[1]
        == {
            "__typename": "NotFound",
            "message": "No task with this id in your account; list yours with the `viewer` query.",
            "field": "taskId",
            "code": "NOT_FOUND",
        }
    )
    assert await gql(NODE, {"id": theirs}, token=ada.token) == {"data": {"node": None}}
    bob_sees = await gql(NODE, {"id": theirs}, token=bob.token)
    assert bob_sees == {"data": {"node": {"__typename": "Task", "title": "Bob's"}}}
