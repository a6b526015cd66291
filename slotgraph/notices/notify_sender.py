"""NOTIFYs on one connection of their own, coalesced: what `PostgresPubSub.publish` sends.

Why a connection of its own: through the requests' pool a notice waited behind every
request queued for a connection, and under overload it was dropped after its timeout
(`bench/mixed_load.py` counted 449 in 10 minutes), leaving shared slot answers stale
until their listing age. Why coalesced: every call that arrives while a send is on the wire
goes out in the next single statement (16 syncs in flight, or a burst of bookings, share
one), which is what the NOTIFY queue lock per committing transaction asks for; PostgreSQL
drops duplicate payloads within it. Why a bare asyncpg connection rather than a pool: one
statement outside a transaction is one round trip (prepared once), where a pooled
SQLAlchemy connection adds a pre-ping, BEGIN and COMMIT to each.

A host's change (`send(hosts=...)`) names the host, not its pages: the same statement
looks its pages up, so it needs no connection from the requests' pool either.

Hand-rolled: neither asyncpg nor SQLAlchemy batches statements across callers, and the
batching is the point. A failed send is tried once more on a new connection (a notice may
then arrive twice, which subscribers take as one more re-read); a second failure reaches
every caller of the batch, whose `_best_effort` logs it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from slotgraph.models.db import connect_raw

# How long a new connection may take; the caller's own timeout bounds the whole send.
CONNECT_SECONDS = 5.0


# The payloads given.
PAYLOADS = "SELECT pg_notify($1, n) FROM unnest($2::text[]) AS n"
# The payloads given, plus `<prefix><page id>` for each page of each host given (the table
# is `SchedulingPage`'s; tests/notices/test_host_notices.py runs this on every broker).
# Separate from PAYLOADS so that a database without the schema (bench/pubsub.py) can
# carry plain notices.
PAYLOADS_AND_HOSTS = """
SELECT pg_notify($1, n) FROM (
    SELECT unnest($2::text[]) AS n
    UNION ALL
    SELECT h.prefix || p.id
    FROM unnest($3::text[], $4::bigint[]) AS h(prefix, host)
    JOIN scheduling_pages AS p ON p.user_id = h.host
) AS notices
"""


class NotifySender:
    """Sends `pg_notify(channel, payload)` for payloads and for hosts' pages; see above."""

    def __init__(self, database_url: str, pg_channel: str) -> None:
        self._url = database_url
        self._pg_channel = pg_channel
        self._connection: Any = None
        self._payloads: dict[str, None] = {}  # ordered sets of what the next batch sends
        self._hosts: dict[tuple[str, int], None] = {}
        self._batch: asyncio.Future[None] | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one statement on the connection at a time
        self.statements = 0  # sent so far (for benchmarks and tests)

    async def send(
        self, payloads: Iterable[str] = (), hosts: Iterable[tuple[str, int]] = ()
    ) -> None:
        """Send `payloads` and, for each `(prefix, host user id)`, `prefix + page id` for
        every page of that host; returns once the batch they joined was sent."""
        self._payloads.update(dict.fromkeys(payloads))
        self._hosts.update(dict.fromkeys(hosts))
        batch = self._batch
        if batch is None:
            batch = self._batch = asyncio.get_running_loop().create_future()
            batch.add_done_callback(_retrieve)  # no warning when every caller gave up
            flush = asyncio.create_task(self._flush(batch), name="pubsub-notify")
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        await asyncio.shield(batch)

    @property
    def backend_pid(self) -> int | None:
        """The sending connection's PostgreSQL backend, while connected (for tests)."""
        connection = self._connection
        return None if connection is None else int(connection.get_server_pid())

    async def close(self) -> None:
        """Cancel what is waiting to be sent and close the connection; a later `send`
        starts afresh (a runtime stops its pub/sub twice)."""
        for flush in list(self._flushes):
            flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flush
        self._batch, self._payloads, self._hosts = None, {}, {}
        self._drop()

    async def _flush(self, batch: asyncio.Future[None]) -> None:
        try:
            async with self._lock:
                self._batch = None  # calls from now on make the next batch
                payloads, self._payloads = list(self._payloads), {}
                hosts, self._hosts = list(self._hosts), {}
                await self._send_twice(payloads, hosts)
        except asyncio.CancelledError:
            batch.cancel()
            raise
        except Exception as exc:
            batch.set_exception(exc)
        else:
            batch.set_result(None)

    async def _send_twice(self, payloads: list[str], hosts: list[tuple[str, int]]) -> None:
        statement = PAYLOADS
        arguments: tuple[Any, ...] = (self._pg_channel, payloads)
        if hosts:
            prefixes, host_ids = [prefix for prefix, _ in hosts], [host for _, host in hosts]
            statement, arguments = PAYLOADS_AND_HOSTS, (*arguments, prefixes, host_ids)
        for attempt in (1, 2):
            try:
                if self._connection is None:
                    self._connection = await self._connect()
                self.statements += 1
                await self._connection.execute(statement, *arguments)
            except Exception:
                self._drop()
                if attempt == 2:
                    raise
            else:
                return

    async def _connect(self) -> Any:
        connection = await connect_raw(self._url, connect_seconds=CONNECT_SECONDS)
        await connection.execute("SET application_name = 'slotgraph-notices'")  # for operators
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()


def _retrieve(batch: asyncio.Future[None]) -> None:
    if not batch.cancelled():
        batch.exception()
