"""A real `slotgraph worker` process, SIGKILLed in the middle of a calendar write and started
again (#5 acceptance): every booking ends on the calendar exactly once, none is lost."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from exchangelib.protocol import close_connections  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.enums import CalendarWriteState
from server.settings import Settings
from sync.outbox import event_key
from tests.conftest import Factory, GraphQLClient
from tests.e2e.test_websocket import SLOTGRAPH
from tests.fakes.exchange import FakeExchange
from tests.sync.helpers import book_slots, eventually, exchange_host, rows

BOOKINGS = 3


@pytest.fixture
def exchange() -> Iterator[FakeExchange]:
    with FakeExchange() as fake:
        yield fake
    close_connections()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [SLOTGRAPH, "worker", "--no-migrate"], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )


async def test_worker_killed_mid_write_and_restarted_writes_each_booking_once(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    ada = await exchange_host(gql, factory, exchange)
    await book_slots(gql, ada, count=BOOKINGS)
    bookings, _ = await rows(sessionmaker)
    keys = {booking.id: event_key(booking) for booking in bookings}
    # The first event Exchange receives is stored at once but answered only much later:
    # the worker is killed while it waits, with the event on the calendar and not recorded.
    exchange.fail("slow", operation="CreateItem", times=1, delay=20)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTGRAPH_SECRET_KEYS": ",".join(settings.secret_keys),
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
        "SLOTGRAPH_DB_POOL_SIZE": "2",
        "SLOTGRAPH_WORKER_CONCURRENCY": "4",
        "SLOTGRAPH_JOB_HEARTBEAT_SECONDS": "2",
        "SLOTGRAPH_OUTBOX_LEASE_SECONDS": "4",
        "SLOTGRAPH_OUTBOX_SWEEP_SECONDS": "1",
        "SLOTGRAPH_OUTBOX_INITIAL_BACKOFF_SECONDS": "1",
        "SLOTGRAPH_PROVIDER_TIMEOUT_SECONDS": "30",
    }
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:

        async def written_but_unrecorded() -> bool:
            assert worker.poll() is None, log.read_text()[-2000:]
            states = {b.id: b.calendar_write_state for b in (await rows(sessionmaker))[0]}
            return any(
                exchange.items_with_key(key) and states[booking_id] is CalendarWriteState.PENDING
                for booking_id, key in keys.items()
            )

        await eventually(written_but_unrecorded)
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
        before, _ = await rows(sessionmaker)
        assert any(b.calendar_write_state is CalendarWriteState.PENDING for b in before)

        worker = start_worker(env, log)

        async def all_written() -> bool:
            assert worker.poll() is None, log.read_text()[-2000:]
            found, _ = await rows(sessionmaker)
            return all(b.calendar_write_state is CalendarWriteState.WRITTEN for b in found)

        await eventually(all_written, seconds=60)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0  # in-flight jobs drained, clean exit
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    after, messages = await rows(sessionmaker)
    assert len(after) == BOOKINGS  # no booking lost
    for booking in after:
        (item,) = exchange.items_with_key(keys[booking.id])  # exactly one event each
        assert booking.remote_event_id == item.id
    assert len([item for item in exchange.items.values() if item.extended]) == BOOKINGS
    assert {m.state.value for m in messages} == {"DONE"}
