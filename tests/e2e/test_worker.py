"""Real worker processes: `slotgraph worker` SIGKILLed in the middle of a calendar write
and started again (every booking ends on the calendar exactly once, none is lost), on the
Exchange fake and on a real Radicale over CalDAV (where the move and the cancellation then
change the server's calendar once each too), and `slotgraph serve` running the workers
in-process by default."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.jobs.deliveries.booking_events import event_key
from slotgraph.models.enums import CalendarWriteState
from slotgraph.server.settings import Settings
from tests.fakes.exchange import FakeExchange
from tests.helpers.accounts import Factory
from tests.helpers.bookings import CANCEL_AS_CONTACT
from tests.helpers.bookings import RESCHEDULE
from tests.helpers.bookings import book_slots
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import rows
from tests.helpers.bookings import run
from tests.helpers.caldav import fresh_account
from tests.helpers.caldav_hosts import booking_events
from tests.helpers.caldav_hosts import caldav_host
from tests.helpers.caldav_servers import DavProxy
from tests.helpers.caldav_servers import Server
from tests.helpers.connections import exchange_host
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import eventually
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday
from tests.helpers.serving import free_port
from tests.helpers.serving import wait_ready
from tests.helpers.workers import start
from tests.helpers.workers import worker_env

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


async def test_worker_killed_mid_caldav_put_and_restarted_writes_the_booking_once(
    gql: GraphQLClient,
    factory: Factory,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    radicale_server: Server,
    tmp_path: Path,
) -> None:
    proxy = DavProxy(radicale_server.url).start()
    env = worker_env(settings, database_url)
    log = tmp_path / "worker.log"
    workers: list[subprocess.Popen[bytes]] = []

    def alive() -> None:
        assert workers[-1].poll() is None, log.read_text()[-2000:]

    try:
        with fresh_account(radicale_server) as (n, calendar):
            ada = await caldav_host(gql, factory, radicale_server, proxy, n)
            slug = await make_page(gql, ada)
            nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
            booked = await book_with_token(gql, slug, nine)
            assert booked["booking"]["status"] == "CONFIRMED", booked
            # The proxy hands Radicale the PUT at once and holds its answer: the worker is
            # killed while it waits, with the event on the calendar and not recorded.
            proxy.hang(operation="create_event", times=1, seconds=120)
            workers.append(start_worker(env, log))

            async def put_landed() -> bool:
                alive()
                return bool(proxy.calls("create_event"))

            await eventually(put_landed)
            workers[-1].send_signal(signal.SIGKILL)
            assert workers[-1].wait(timeout=10) == -signal.SIGKILL
            ((booking,), _) = await rows(sessionmaker)
            assert booking.calendar_write_state is CalendarWriteState.PENDING
            assert len(booking_events(calendar)) == 1

            workers.append(start_worker(env, log))

            async def written() -> bool:
                alive()
                return await all_written(sessionmaker)

            await eventually(written, seconds=60)
            puts = [(e.method, e.status) for e in proxy.calls("create_event")]
            assert puts == [("PUT", 201), ("PUT", 412)]  # the second found it, not doubled
            ((title, start, _, _),) = booking_events(calendar)
            assert start == nine

            # The restarted worker moves and removes it, once each.
            quarter = nine + dt.timedelta(minutes=15)
            bid, token = booked["booking"]["id"], booked["manageToken"]
            await run(gql, RESCHEDULE, ada.token, bookingId=bid, start=quarter.isoformat())

            async def moved() -> bool:
                return [s for _, s, _, _ in booking_events(calendar)] == [quarter]

            await eventually(moved, seconds=60)
            await run(gql, CANCEL_AS_CONTACT, manageToken=token)

            async def removed() -> bool:
                return booking_events(calendar) == []

            await eventually(removed, seconds=60)
            workers[-1].send_signal(signal.SIGTERM)
            assert workers[-1].wait(timeout=20) == 0
            writes = [
                (e.method, e.status) for e in proxy.exchanges if e.method in ("PUT", "DELETE")
            ]
            assert writes == [("PUT", 201), ("PUT", 412), ("PUT", 204), ("DELETE", 200)]
            assert title
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        proxy.stop()
    (_, messages) = await rows(sessionmaker)
    assert {m.state.value for m in messages if m.kind.value.startswith("CALENDAR")} == {"DONE"}
