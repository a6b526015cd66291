"""No double booking under load (beyond-the-source goal 4; S8, C14): 200 contacts book the
same slot at once over real HTTP against `slotgraph serve --workers 3` on one database.

Each call re-checks the slot with a live free/busy read of the host's Exchange calendar
(the EWS fake, through the real adapter) and stores that read in the busy cache (C16);
the exclusion constraint on bookings decides the race. Exactly one call succeeds, every
other one answers `SlotUnavailable`, and the losers leave nothing behind: their contact
rows are rolled back with their transactions, and only the winner's booking has an outbox
row. The 200 concurrent cache writes leave one window per calendar: each replaced the
previous one atomically.

Pools: 3 workers x (4 + 4) connections stay well under max_connections 100 beside the test
process's own; requests queue for a connection, which is fine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import Base
from slotgraph.models import Booking
from slotgraph.models import BookingEvent
from slotgraph.models import BusyCacheWindow
from slotgraph.models import Contact
from slotgraph.models import IdempotencyKey
from slotgraph.models import LostAccessNotice
from slotgraph.models import OutboxMessage
from slotgraph.models.enums import BookingStatus
from slotgraph.models.outbox import OutboxKind
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.helpers.accounts import Factory
from tests.helpers.serving import RACE_ENV
from tests.helpers.serving import serve

CALLERS = 200
CONNECT = """
mutation($i: ConnectExchangeCalendarInput!) { connectExchangeCalendar(input: $i) { __typename } }
"""
CREATE_PAGE = """
mutation($input: CreateSchedulingPageInput!) { createSchedulingPage(input: $input) {
  __typename ... on CreateSchedulingPageSuccess { page { slug } } } }
"""
BOOK = """
mutation Book($input: BookMeetingInput!) {
  bookMeeting(input: $input) {
    __typename
    ... on BookMeetingSuccess { booking { id start status } }
    ... on Error { code }
  }
}
"""


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # No background workers: the rows counted are the booking path's alone (the in-process
    # sync and outbox deliveries would write theirs meanwhile).
    with serve(database_url, tmp_path_factory.mktemp("race"), workers=3, env=RACE_ENV) as base:
        yield base


def next_monday_ten() -> dt.datetime:
    today = dt.datetime.now(dt.UTC).date()
    return dt.datetime.combine(today + dt.timedelta(days=7 - today.weekday()), dt.time(10), dt.UTC)


async def row_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            table.name: (
                await session.execute(select(func.count()).select_from(table))
            ).scalar_one()
            for table in Base.metadata.sorted_tables
        }


async def test_200_concurrent_bookings_of_one_slot_make_exactly_one_booking(
    server: str,
    factory: Factory,
    exchange: FakeExchange,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada = await factory.person(url_prefix="ada", name="Ada")
    start = next_monday_ten()
    limits = httpx.Limits(max_connections=CALLERS, max_keepalive_connections=CALLERS)
    async with httpx.AsyncClient(base_url=server, timeout=60, limits=limits) as client:
        auth = {"Authorization": f"Bearer {ada.token}"}
        connect = {"email": exchange.email, "password": PASSWORD, "ewsUrl": exchange.url}
        connected = await client.post(
            "/graphql", json={"query": CONNECT, "variables": {"i": connect}}, headers=auth
        )
        assert connected.json()["data"]["connectExchangeCalendar"]["__typename"] == (
            "ConnectExchangeCalendarSuccess"
        )
        page = {
            "title": "Intro",
            "durations": [30],
            "timeZone": "UTC",
            "weeklyHours": [{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}],
        }
        created = await client.post(
            "/graphql", json={"query": CREATE_PAGE, "variables": {"input": page}}, headers=auth
        )
        slug = created.json()["data"]["createSchedulingPage"]["page"]["slug"]
        before = await row_counts(sessionmaker)

        async def book(caller: int) -> httpx.Response:
            fields = {
                "pageSlug": slug,
                "start": start.isoformat(),
                "timeZone": "Europe/Paris",
                "contact": {"name": f"Contact {caller}", "email": f"c{caller}@example.test"},
            }
            return await client.post(
                "/graphql", json={"query": BOOK, "variables": {"input": fields}}
            )

        answers = await asyncio.gather(*(book(caller) for caller in range(CALLERS)))

    assert Counter(response.status_code for response in answers) == {200: CALLERS}
    results = [response.json() for response in answers]
    assert all("errors" not in result for result in results), [r for r in results if "errors" in r][
        :3
    ]
    outcomes = [result["data"]["bookMeeting"] for result in results]
    assert Counter(outcome["__typename"] for outcome in outcomes) == {
        "BookMeetingSuccess": 1,
        "SlotUnavailable": CALLERS - 1,
    }
    assert {o["code"] for o in outcomes if o["__typename"] == "SlotUnavailable"} == {
        "SLOT_UNAVAILABLE"
    }
    winner_caller = next(
        caller
        for caller, outcome in enumerate(outcomes)
        if outcome["__typename"] == "BookMeetingSuccess"
    )

    async with sessionmaker() as session:
        bookings = (await session.execute(select(Booking))).scalars().all()
        contacts = (await session.execute(select(Contact))).scalars().all()
        outbox = (await session.execute(select(OutboxMessage))).scalars().all()
        windows = (await session.execute(select(BusyCacheWindow))).scalars().all()
    assert [(b.starts_at, b.status, b.contact_id) for b in bookings] == [
        (start, BookingStatus.CONFIRMED, contacts[0].id)
    ]
    assert [c.email for c in contacts] == [f"c{winner_caller}@example.test"]
    # The winner's calendar write and the contact's confirmation email (C21), nothing else.
    assert sorted((m.kind.value, m.booking_id) for m in outbox) == [
        (OutboxKind.BOOKING_EMAIL.value, bookings[0].id),
        (OutboxKind.CALENDAR_CREATE.value, bookings[0].id),
    ]
    assert len(windows) == 1  # the primary calendar: 200 reads, each replacing the last

    after = await row_counts(sessionmaker)
    written = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    # The busy cache's rows, and the counters of the public limits (C25), one per key.
    cache_rows = {"busy_cache_windows", "busy_cache_intervals", "limit_counters"}
    assert {k: v for k, v in written.items() if k not in cache_rows} == {
        Booking.__tablename__: 1,
        Contact.__tablename__: 1,
        BookingEvent.__tablename__: 1,
        OutboxMessage.__tablename__: 2,
    }
    assert IdempotencyKey.__tablename__ not in written
    assert LostAccessNotice.__tablename__ not in written
