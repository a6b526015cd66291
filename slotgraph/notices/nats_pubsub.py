"""The pub/sub seam (`slotgraph.notices.pubsub`) on core NATS (nats-py), for fleets whose
commit rate a NOTIFY per commit would hold back (`SLOTGRAPH_PUBSUB=nats`).

Subjects: `<prefix>.<channel>.<id>`, e.g. `slotgraph.page.42`; one message per id, with an
empty payload (the id is in the subject). Each process holds ONE connection and ONE
subscription, to `<prefix>.>`, and routes what arrives to its subscribers by a dictionary
lookup (`LocalFanout`), as the PostgreSQL implementation does.

Why one wildcard subscription per process rather than a subscription per key on demand,
by NATS's cost model: the server matches each message against its subscription list (a
cached lookup; a wildcard costs no more than a literal subject) and writes it once per
matching connection, so per process the wildcard costs one delivery per notice, a few
microseconds of server time and one parse in the client (BENCHMARKS.md "Pub/sub").
Per-key subscriptions would let the server drop notices for keys a process does not
watch, which pays only once notices/s × processes is large, and they cost: the seam's
`subscribe` promises the subscription is in place when it returns (subscribe first, read
state second, miss nothing between), and a per-key SUB is in place at the server only after
a round trip, so every subscriber would wait one; nats-py keeps a queue and a task per
subscription and replays every SUB on reconnect; every page opened or closed would send a
SUB or UNSUB. Publishers put the key in the subject all the same, so moving to per-key (or
per-channel, `slotgraph.page.*`) subscriptions is a subscriber-side change only, and an
operator can watch one key (`nats sub slotgraph.page.42`).

Core NATS delivers at most once: a notice sent while a process is disconnected is lost for
it. nats-py reconnects by itself (forever here, `reconnect_wait` apart), replays the
subscription and waits for the server's PONG before calling back, so when `_feed_up()` runs
the subscription is in place again; every local subscriber is then woken once (resync, as
after the PostgreSQL listener reconnects). Notices dropped by the client for a subscription
that fell behind (a slow consumer) resync the same way. Publishes made while disconnected
wait in nats-py's buffer (2 MB) and go out on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.errors import SlowConsumerError

from slotgraph.notices.pubsub import BrokerFanout
from slotgraph.notices.pubsub import PageLookup
from slotgraph.notices.pubsub import notice_ids

log = structlog.get_logger("slotgraph.pubsub")

SUBJECT_PREFIX = "slotgraph"
# The channel of `_confirm_subscribed`'s probes: no notice channel, which are plain words.
PROBE = "_probe"


class NatsPubSub(BrokerFanout):
    """Core NATS fan-out across processes; one connection and one subscription per process.

    `servers` are NATS URLs (`nats://host:4222`, credentials in the URL if any). Publishing
    needs no `start()`: the first publish connects (a worker publishes, never subscribes).
    Example::

        pubsub = NatsPubSub(["nats://127.0.0.1:4222"])
        await pubsub.start()
        ...
        await pubsub.publish("page", "42")  # after the commit that changed page 42
        await pubsub.stop()
    """

    def __init__(
        self,
        servers: Sequence[str],
        *,
        subject_prefix: str = SUBJECT_PREFIX,
        reconnect_wait: int = 1,
        ping_interval: int = 10,
    ) -> None:
        super().__init__()
        self._servers = list(servers)
        self._prefix = subject_prefix
        self._reconnect_wait = reconnect_wait
        self._ping_interval = ping_interval
        self._client = Client()
        self._connecting: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._subscription: NatsSubscription | None = None
        self._probe_id = ""
        self._probed = asyncio.Event()

    async def start(self) -> None:
        """Connect and subscribe, waiting as `_wait_first_feed` says (nats-py then keeps
        connecting in the background)."""
        if self._listen_task is None:
            self._listen_task = asyncio.create_task(self._listen(), name="pubsub-nats")
        await self._wait_first_feed()

    async def stop(self) -> None:
        for task in (self._listen_task, self._connecting):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._subscription = None  # closing is no loss to report
        if self._connecting is not None:
            await self._client.close()
        self._listen_task = self._connecting = None
        self._client = Client()
        self._feed_down()
        self.close_all()

    async def publish(self, channel: str, *ids: str) -> None:
        subjects = [f"{self._prefix}.{channel}.{id}" for id in notice_ids(channel, ids)]
        if not subjects:
            return
        client = await self._connected()
        for subject in subjects:
            await client.publish(subject)  # buffered; one write for the lot

    async def publish_host(self, channel: str, host_user_id: int, pages: PageLookup) -> None:
        await self.publish(channel, *(str(page_id) for page_id in await pages()))

    async def _connected(self) -> Client:
        """The client, once connected (the first call starts connecting). A caller's
        timeout cancels its wait, never the connection attempt others share."""
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect(), name="pubsub-nats-connect")
        await asyncio.shield(self._connecting)
        return self._client

    async def _connect(self) -> None:
        await self._client.connect(
            servers=self._servers,
            name="slotgraph",
            max_reconnect_attempts=-1,  # never give up: a fan-out has no fallback
            reconnect_time_wait=self._reconnect_wait,
            ping_interval=self._ping_interval,  # a silent server is noticed in ~2 intervals
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )

    async def _listen(self) -> None:
        client = await self._connected()
        self._subscription = await client.subscribe(f"{self._prefix}.>", cb=self._on_message)
        await self._confirm_subscribed(client)
        self._feed_up()

    async def _confirm_subscribed(self, client: Client) -> None:
        """Return once the server routes this subscription's notices. Not `flush()`: nats-py
        writes its PING straight to the socket, possibly ahead of the SUB still in its
        buffer, so the PONG proves nothing (a notice published meanwhile by another process
        was missed, 1 test run in 6 here). A probe published on this connection after the
        SUB does prove it: a server handles one connection's commands in order, so once the
        probe comes back through the subscription, every later notice will too. (On
        reconnect nats-py writes the replayed SUBs to the socket before its PING, so there
        its PONG is proof.)"""
        while True:
            self._probe_id, self._probed = secrets.token_hex(8), asyncio.Event()
            await client.publish(f"{self._prefix}.{PROBE}.{self._probe_id}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._probed.wait(), 1.0)
                return

    async def _on_message(self, message: Msg) -> None:
        channel, _, id = message.subject[len(self._prefix) + 1 :].partition(".")
        if channel == PROBE:
            if id == self._probe_id:
                self._probed.set()
            return
        self.deliver(channel, id)

    async def _on_error(self, error: Exception) -> None:
        if isinstance(error, SlowConsumerError):
            log.warning("pubsub notices dropped by a slow consumer; resyncing subscribers")
            self.resync()
        else:
            log.warning("pubsub nats error", error=type(error).__name__)

    async def _on_disconnected(self) -> None:
        if self._subscription is not None:
            log.warning("pubsub nats connection lost; reconnecting")
        self._feed_down()

    async def _on_reconnected(self) -> None:
        if self._subscription is not None:  # replayed and flushed by nats-py already
            self._feed_up()
