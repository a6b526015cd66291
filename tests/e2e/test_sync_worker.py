"""A real `slotgraph worker` process: it syncs a new connection at once,
syncs again on `syncCalendarConnection`, and stops cleanly on SIGTERM."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from exchangelib.protocol import close_connections
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.graph.relay import pk_of
from slotgraph.models import CalendarConnection
from slotgraph.models.enums import SyncState
from slotgraph.server.settings import Settings
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.fakes.scenario import ScriptedEvent
from tests.helpers.accounts import Factory
from tests.helpers.connections import CONNECT
from tests.helpers.connections import SYNC
from tests.helpers.graphql import GraphQLClient

SLOTGRAPH = str(Path(sys.executable).with_name("slotgraph"))
SOON = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)


@pytest.fixture
def exchange() -> Iterator[FakeExchange]:
    first = ScriptedEvent("first", "First", SOON, SOON + dt.timedelta(hours=1))
    with FakeExchange(events=(first,)) as fake:
        yield fake
    close_connections()


async def wait_for(
    sessionmaker: async_sessionmaker[AsyncSession], connection_id: int, events: int
) -> CalendarConnection:
    """The connection once SYNCED with `events` events (at most 60 s)."""
    for _ in range(600):
        async with sessionmaker() as session:
            row = await session.get(CalendarConnection, connection_id)
        if row is not None and (row.sync_state, row.events_synced) == (SyncState.SYNCED, events):
            return row
        await anyio.sleep(0.1)
    raise AssertionError(f"the worker did not sync {events} event(s)")


async def test_sync_worker_syncs_new_connections_and_on_demand_then_stops_on_sigterm(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    ada = await factory.person()
    connected = await gql(
        CONNECT,
        {"i": {"email": exchange.email, "password": PASSWORD, "ewsUrl": exchange.url}},
        token=ada.token,
    )
    global_id = connected["data"]["connectExchangeCalendar"]["connection"]["id"]
    connection_id = pk_of(global_id, "CalendarConnection")
    assert connection_id is not None
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTGRAPH_SECRET_KEYS": ",".join(settings.secret_keys),
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
        "SLOTGRAPH_SYNC_POLL_SECONDS": "0.2",
    }
    with (tmp_path / "stderr.log").open("wb") as stderr:
        process = await anyio.open_process(
            [SLOTGRAPH, "worker", "--no-migrate"], env=env, stderr=stderr
        )
    try:
        first = await wait_for(sessionmaker, connection_id, 1)

        later = SOON + dt.timedelta(hours=2)
        exchange.add_event(ScriptedEvent("second", "Second", later, later + dt.timedelta(hours=1)))
        asked = await gql(SYNC, {"input": {"connectionId": global_id}}, token=ada.token)
        assert asked["data"]["syncCalendarConnection"]["__typename"] == (
            "SyncCalendarConnectionSuccess"
        )
        second = await wait_for(sessionmaker, connection_id, 2)
        assert first.last_synced_at is not None
        assert second.last_synced_at is not None
        assert second.last_synced_at > first.last_synced_at
    finally:
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            await process.wait()
        await process.aclose()
    assert process.returncode == 0, (tmp_path / "stderr.log").read_text()
