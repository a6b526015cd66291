"""Task sync on Microsoft 365 (S10, C11): the same tasks mirrored into a "Slotgraph tasks"
calendar of a mailbox connected through the real consent flow, written by the outbox
through the real Graph adapter against the Microsoft fake."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.jobs.task_events import TASK_CALENDAR_NAME
from tests.fakes.microsoft import FakeMicrosoft
from tests.helpers import microsoft_app
from tests.helpers.accounts import Factory
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import pending_deliveries
from tests.helpers.tasks import COMPLETE
from tests.helpers.tasks import DELETE
from tests.helpers.tasks import DUE
from tests.helpers.tasks import create
from tests.helpers.tasks import task_sync

# The Microsoft fixtures of the connect tests: the fake (fresh per test), its CA, the app
# configured against it, the browser trusting the fake.
fake = microsoft_app.fake
_fresh_fake = microsoft_app._fresh_fake
ca_file = microsoft_app.ca_file
app = microsoft_app.app
browser = microsoft_app.browser


def task_events(fake: FakeMicrosoft) -> list[tuple[str, dt.datetime, dt.datetime, str]]:
    (calendar,) = [c for c in fake.calendars if c.name == TASK_CALENDAR_NAME]
    return [(e.subject, e.start, e.end, e.show_as) for e in fake.calendar_events(calendar.id)]


async def test_microsoft_365_tasks_become_free_events_then_done_then_removed(
    gql: GraphQLClient,
    factory: Factory,
    fake: FakeMicrosoft,
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada = await factory.person()
    landed = await microsoft_app.consent_and_return(gql, ada, browser, client)
    connection = landed["calendarConnection"]
    assert await task_sync(gql, ada, connection, True) == "UpdateCalendarConnectionSuccess"

    task_id = (await create(gql, ada, title="Call Cleo", dueAt=DUE.isoformat()))["task"]["id"]
    await pending_deliveries(app, sessionmaker)
    end = DUE + dt.timedelta(minutes=30)
    assert task_events(fake) == [("Call Cleo", DUE, end, "free")]

    await gql(COMPLETE, {"input": {"taskId": task_id}}, token=ada.token)
    await pending_deliveries(app, sessionmaker)
    assert task_events(fake) == [("✓ Call Cleo", DUE, end, "free")]

    await gql(DELETE, {"input": {"taskId": task_id}}, token=ada.token)
    await pending_deliveries(app, sessionmaker)
    assert task_events(fake) == []
    assert [c.name for c in fake.calendars].count(TASK_CALENDAR_NAME) == 1
