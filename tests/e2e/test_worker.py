"""Real worker processes: `slotgraph worker` SIGKILLed in the middle of a calendar write
and started again (every booking ends on the calendar exactly once, none is lost), and
`slotgraph serve` running the workers in-process by default."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slotgraph.jobs.deliveries.booking_events import event_key
from slotgraph.models.enums import CalendarWriteState
from slotgraph.server.settings import Settings
from tests.fakes.exchange import FakeExchange
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_slots, rows
from tests.helpers.connections import exchange_host
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import eventually
from tests.helpers.serving import free_port, wait_ready
from tests.helpers.workers import start, worker_env

BOOKINGS = 3


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return start(["worker", "--no-migrate"], env, log)


async def all_written(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    found, _ = await rows(sessionmaker)
    return all(b.calendar_write_state is CalendarWriteState.WRITTEN for b in found)


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
    env = worker_env(settings, database_url)
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

        async def written() -> bool:
            assert worker.poll() is None, log.read_text()[-2000:]
            return await all_written(sessionmaker)

        await eventually(written, seconds=60)
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


async def test_serve_runs_the_workers_in_process(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    ada = await exchange_host(gql, factory, exchange)
    await book_slots(gql, ada, count=2)
    port = free_port()
    log = tmp_path / "serve.log"
    server = start(
        ["serve", "--no-migrate", "--port", str(port), "--workers", "2"],
        {
            **worker_env(settings, database_url),
            "SLOTGRAPH_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        },
        log,
    )
    try:
        wait_ready(server, f"http://127.0.0.1:{port}", log)

        async def written() -> bool:
            return await all_written(sessionmaker)

        await eventually(written)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    bookings, _ = await rows(sessionmaker)
    for booking in bookings:
        (item,) = exchange.items_with_key(event_key(booking))
        assert booking.remote_event_id == item.id
