"""The pub/sub seam (`slotgraph.notices.pubsub`) on PostgreSQL LISTEN/NOTIFY: the
zero-setup default, since every deployment has the database already.

ONE PostgreSQL channel (`slotgraph`) with payloads `<channel>:<id>`, e.g. `page:42`,
`connection:7`. One channel because PostgreSQL wakes every listening connection for every
NOTIFY whatever its channel, so more channels would save the server nothing; the routing to
subscribers happens in the process, by a dictionary lookup. Each process holds ONE dedicated
listener connection (straight to PostgreSQL: LISTEN does not work through PgBouncer in
transaction mode), reconnected with capped exponential backoff when it drops; on reconnect
every local subscriber gets a resync (`BrokerFanout`). NOTIFY goes out in its own short
transaction after the change committed (a NOTIFY inside the writing transaction would
serialise all commits), all ids of one call in one statement; PostgreSQL drops duplicates
within it. NOTIFYs go out on a connection of the pub/sub's own, coalesced across callers
(`slotgraph.notices.notify_sender`: why), and a host's change names the host, whose pages
the same statement looks up (`publish_host`). The cost that remains,
a NOTIFY queue lock per commit that sends one, is what `slotgraph.notices.nats_pubsub`
removes for fleets that need it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from slotgraph.models.db import connect_raw
from slotgraph.notices.notify_sender import NotifySender
from slotgraph.notices.pubsub import BrokerFanout
from slotgraph.notices.pubsub import PageLookup
from slotgraph.notices.pubsub import notice_ids

log = structlog.get_logger("slotgraph.pubsub")

PG_CHANNEL = "slotgraph"


class PostgresPubSub(BrokerFanout):
    """LISTEN/NOTIFY fan-out across processes; one listener connection per process.

    `database_url` (libpq form) is where the listener and the sender connect, directly to
    PostgreSQL. Publishing needs no `start()`; `stop()` closes both connections. Example::

        pubsub = PostgresPubSub(url)
        await pubsub.start()
        ...
        await pubsub.publish("page", "42")  # after the commit that changed page 42
        await pubsub.stop()
    """

    def __init__(
        self,
        database_url: str,
        *,
        pg_channel: str = PG_CHANNEL,
        health_interval: float = 10.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
    ) -> None:
        super().__init__()
        self._url = database_url
        self._sender = NotifySender(database_url, pg_channel)
        self._pg_channel = pg_channel
        self._health_interval = health_interval
        self._backoff = (backoff_initial, backoff_max)
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None

    @property
    def backend_pid(self) -> int | None:
        """The listener's PostgreSQL backend, while connected (for operators and tests)."""
        connection = self._connection
        return None if connection is None else int(connection.get_server_pid())

    @property
    def sender(self) -> NotifySender:
        return self._sender

    async def start(self) -> None:
        """Start the listener's supervisor, waiting as `_wait_first_feed` says."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="pubsub-listener")
        await self._wait_first_feed()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.close_all()
        await self._sender.close()

    async def publish(self, channel: str, *ids: str) -> None:
        notices = [f"{channel}:{id}" for id in notice_ids(channel, ids)]
        if notices:
            await self._sender.send(payloads=notices)

    async def publish_host(self, channel: str, host_user_id: int, pages: PageLookup) -> None:
        """A notice on `channel` for every scheduling page of the host, looked up by the
        statement that sends it: `pages` is not called."""
        notice_ids(channel, ())  # the channel's name obeys the seam's rule
        await self._sender.send(hosts=[(f"{channel}:", host_user_id)])

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        channel, _, id = payload.partition(":")
        self.deliver(channel, id)

    async def _supervise(self) -> None:
        """Connect, listen, watch; on any failure close, wait (capped exponential backoff)
        and reconnect. A hand-written loop rather than a retry library: it never gives up
        and has one step, so a library would add a dependency and no behaviour."""
        delay = self._backoff[0]
        while True:
            try:
                connection = await asyncio.wait_for(connect_raw(self._url), 10)
            except Exception as exc:  # any failure to connect: wait and try again
                log.warning("pubsub listener cannot connect", error=type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            try:
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.execute("SET application_name = 'slotgraph-listener'")
                await connection.add_listener(self._pg_channel, self._on_notify)
                self._connection = connection
                delay = self._backoff[0]
                self._feed_up()
                await self._watch(connection, lost)
            except Exception as exc:  # the connection broke: reconnect
                log.warning("pubsub listener lost", error=type(exc).__name__)
            finally:
                self._feed_down()
                self._connection = None
                connection.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def _watch(self, connection: Any, lost: asyncio.Event) -> None:
        """Return when the connection is gone: closed by the server (termination
        listener) or silent (a periodic `SELECT 1` that does not answer)."""
        while True:
            try:
                await asyncio.wait_for(lost.wait(), self._health_interval)
            except TimeoutError:
                await asyncio.wait_for(connection.fetchval("SELECT 1"), 5)
            else:
                return
