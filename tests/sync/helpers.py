"""Shared steps of the outbox tests: an Exchange host with a page, a confirmed booking,
reading bookings back through GraphQL, and running a worker loop in the test process."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slotgraph.jobs.queue import JobQueue
from slotgraph.models import Booking, OutboxMessage
from tests.conftest import Factory, GraphQLClient, Person
from tests.fakes.exchange import PASSWORD, FakeExchange
from tests.graph.test_available_slots import make_page, next_monday
from tests.graph.test_book_meeting import book

CONNECT_EXCHANGE = """
mutation($i: ConnectExchangeCalendarInput!) {
  connectExchangeCalendar(input: $i) { __typename }
}
"""
BOOKINGS = """
query { viewer { bookings(first: 20) { edges { node {
  title status calendarWriteState calendarWriteError
} } } } }
"""


async def exchange_host(gql: GraphQLClient, factory: Factory, exchange: FakeExchange) -> Person:
    """A host whose Exchange mailbox is connected (S2) and who has a Monday-morning page."""
    ada = await factory.person(url_prefix="ada", name="Ada")
    connected = await gql(
        CONNECT_EXCHANGE,
        {"i": {"email": exchange.email, "password": PASSWORD, "ewsUrl": exchange.url}},
        token=ada.token,
    )
    assert connected["data"]["connectExchangeCalendar"]["__typename"] == (
        "ConnectExchangeCalendarSuccess"
    )
    return ada


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
    result = await gql(BOOKINGS, token=host.token)
    assert "errors" not in result, result
    return [edge["node"] for edge in result["data"]["viewer"]["bookings"]["edges"]]


async def rows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[list[Booking], list[OutboxMessage]]:
    async with sessionmaker() as session:
        bookings = (await session.execute(select(Booking).order_by(Booking.id))).scalars()
        messages = (
            await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
        ).scalars()
        return list(bookings), list(messages)


async def eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 30) -> None:
    """Wait until `check()` holds (polling); fail after `seconds`."""
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - the state is in another process's rows
            await asyncio.sleep(0.05)


@asynccontextmanager
async def working(queue: JobQueue) -> AsyncIterator[None]:
    """The queue's worker loop running in this process until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(queue.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
