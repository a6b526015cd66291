"""Push channels on synced calendars: Google `events.watch` channels and
Microsoft Graph change-notification subscriptions, one per calendar that availability checks
(`slotgraph.calendars.checked.checked_clause`), opened once its connection has synced,
renewed before they expire and stopped on disconnect.

A notification only makes the connection due (`slotgraph.calsync.notifications`); the
incremental sync then fetches what changed, so a lost or duplicated notification costs at
most a sync, and the periodic sweep (polling) remains the safety net. Exchange offers no
push here (`NotOffered`): it stays on polling.

Every channel carries a fresh 256-bit secret (Google's channel token, Graph's
`clientState`) that the provider echoes in each notification; only its SHA-256 is stored.
Provider failures are logged and retried by the next sweep or sync, never raised: push is an
optimisation over polling.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Final

import structlog
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import select
from sqlalchemy import update

from slotgraph.calendars.checked import checked_clause
from slotgraph.calendars.clients import CalendarClients
from slotgraph.clock import utc_now
from slotgraph.models import CalendarConnection
from slotgraph.models import CalendarWatch
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.providers.base import CalendarClient
from slotgraph.providers.base import NotOffered
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import Watch

if TYPE_CHECKING:
    from sqlalchemy import Exists
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

log = structlog.get_logger("slotgraph.watches")

RENEW_JOB: Final = "sync.watch.renew"
PUSH_PROVIDERS: Final = frozenset({Provider.GOOGLE, Provider.MICROSOFT365})
NOTIFICATION_PATHS: Final = {
    Provider.GOOGLE: "/notifications/google",
    Provider.MICROSOFT365: "/notifications/microsoft",
}


def new_token() -> str:
    """A channel token / clientState: 256 random bits, URL-safe (Graph allows 128 chars)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token. A plain SHA-256 suffices: the token is random and long,
    so there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """Where providers reach us and how long channels live (from `Settings`). Graph caps
    Outlook subscriptions at 10,080 minutes; three days with a one-day margin renews each
    channel about every two days, well before it lapses."""

    public_base_url: str
    ttl: dt.timedelta = dt.timedelta(days=3)
    renew_margin: dt.timedelta = dt.timedelta(days=1)
    sweep_seconds: float = 3_600.0

    def address(self, provider: Provider) -> str:
        return self.public_base_url.rstrip("/") + NOTIFICATION_PATHS[provider]


def as_watch(row: CalendarWatch) -> Watch:
    return Watch(id=row.remote_id, resource_id=row.resource_id, expires_at=row.expires_at)


async def forget_watches(session: AsyncSession, connection_id: int) -> list[Watch]:
    """Delete a connection's watch rows in the caller's transaction (notifications for them
    are refused from then on); the channels to stop at the provider afterwards."""
    rows = (
        await session.execute(
            delete(CalendarWatch)
            .where(CalendarWatch.connection_id == connection_id)
            .returning(CalendarWatch)
        )
    ).scalars()
    return [as_watch(row) for row in rows]


async def stop_all(client: CalendarClient, watches: Sequence[Watch]) -> None:
    """Stop channels at the provider, best effort (a channel left open lapses by itself
    and its notifications are refused)."""
    for watch in watches:
        try:
            await client.stop_watch(watch)
        except ProviderError as error:
            log.warning("stopping a push channel failed", reason=error.message)


def live_watch(connection_id: int, now: dt.datetime) -> Exists:
    """Whether the connection has a live push channel on the `RemoteCalendar` of the
    enclosing query: one not yet expired (inside its renewal margin is still live)."""
    return exists().where(
        CalendarWatch.connection_id == connection_id,
        CalendarWatch.remote_calendar_id == RemoteCalendar.id,
        CalendarWatch.expires_at > now,
    )


def wants_watches(connection: CalendarConnection) -> bool:
    """Whether push channels are opened for the connection's calendars at all."""
    return connection.provider in PUSH_PROVIDERS


@dataclass(frozen=True, slots=True)
class Watches:
    """Opening, renewing and stopping push channels for stored connections."""

    sessionmaker: async_sessionmaker[AsyncSession]
    clients: CalendarClients
    config: WatchConfig
    clock: Callable[[], dt.datetime] = field(default=utc_now, kw_only=True)

    async def _client_or_log(
        self, connection: CalendarConnection, event: str, **context: object
    ) -> CalendarClient | None:
        """The connection's client, or None with `event` logged when it cannot be had
        (push is an optimisation: the next sweep or sync tries again)."""
        try:
            return await self.clients.client(connection)
        except ProviderError as error:
            log.warning(event, **context, reason=error.message)
            return None

    async def ensure(self, connection_id: int) -> int:
        """Open a channel on each checked calendar of the connection that has no live one;
        returns how many were opened. Called after each successful sync, so channels lost
        at the provider are reopened by the next sync. A channel inside its renewal margin
        is the renewal sweep's to renew or replace: opening another here would leave two."""
        live = live_watch(connection_id, self.clock())
        # One statement: after every sync of every connection, and usually finding nothing.
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(CalendarConnection, RemoteCalendar)
                    .join(RemoteCalendar, RemoteCalendar.connection_id == CalendarConnection.id)
                    .where(
                        CalendarConnection.id == connection_id,
                        CalendarConnection.status == ConnectionStatus.CONNECTED,
                        CalendarConnection.provider.in_(sorted(PUSH_PROVIDERS)),
                        RemoteCalendar.status == CalendarStatus.CONNECTED,
                        checked_clause(CalendarConnection.user_id),
                        ~live,
                    )
                    .order_by(RemoteCalendar.id)
                )
            ).all()
        if not rows:
            return 0
        connection = rows[0][0]
        missing = [calendar for _, calendar in rows]
        client = await self._client_or_log(
            connection, "no client for push channels", connection_id=connection_id
        )
        if client is None:
            return 0
        opened = 0
        for calendar in missing:
            try:
                await self._open(client, connection, calendar)
            except NotOffered:
                return opened
            except ProviderError as error:
                log.warning(
                    "opening a push channel failed; polling continues",
                    remote_calendar_id=calendar.id,
                    reason=error.message,
                )
                continue
            opened += 1
        return opened

    async def _open(
        self, client: CalendarClient, connection: CalendarConnection, calendar: RemoteCalendar
    ) -> CalendarWatch:
        token = new_token()
        watch = await client.watch(
            calendar.remote_id,
            channel_id=str(uuid.uuid4()),
            address=self.config.address(connection.provider),
            token=token,
            ttl=self.config.ttl,
        )
        row = CalendarWatch(
            connection_id=connection.id,
            remote_calendar_id=calendar.id,
            provider=connection.provider,
            remote_id=watch.id,
            resource_id=watch.resource_id,
            token_hash=token_hash(token),
            expires_at=watch.expires_at,
        )
        async with self.sessionmaker.begin() as session:
            session.add(row)
        log.info("push channel opened", remote_calendar_id=calendar.id, watch_id=row.id)
        return row

    async def renew_due(self) -> int:
        """The periodic task: renew every watch that expires within the margin; returns how
        many were renewed or replaced. Watches of connections no longer connected are
        dropped (their channels lapse)."""
        horizon = self.clock() + self.config.renew_margin
        async with self.sessionmaker.begin() as session:
            stale = select(CalendarConnection.id).where(
                CalendarConnection.status != ConnectionStatus.CONNECTED
            )
            await session.execute(
                delete(CalendarWatch).where(CalendarWatch.connection_id.in_(stale))
            )
            due = list(
                (
                    await session.execute(
                        select(CalendarWatch.id)
                        .where(CalendarWatch.expires_at <= horizon)
                        .order_by(CalendarWatch.expires_at)
                    )
                ).scalars()
            )
        renewed = 0
        for watch_id in due:
            renewed += await self.renew(watch_id)
        return renewed

    async def renew(self, watch_id: int) -> int:
        """Extend one watch (Graph: PATCH the subscription), or, where the provider cannot
        (Google) or no longer knows it, open a new channel and stop the old. 1 when done."""
        async with self.sessionmaker() as session:
            row = await session.get(CalendarWatch, watch_id)
            if row is None:
                return 0
            connection = await session.get_one(CalendarConnection, row.connection_id)
            calendar = await session.get_one(RemoteCalendar, row.remote_calendar_id)
        client = await self._client_or_log(
            connection, "no client to renew a push channel", watch_id=watch_id
        )
        if client is None:
            return 0
        old = as_watch(row)
        try:
            renewed = await client.renew_watch(old, self.config.ttl)
        except ProviderError:  # NotOffered (Google) or gone at the provider: replace it
            return await self._replace(client, connection, calendar, row)
        async with self.sessionmaker.begin() as session:
            await session.execute(
                update(CalendarWatch)
                .where(CalendarWatch.id == watch_id)
                .values(expires_at=renewed.expires_at, renewed_at=self.clock())
            )
        return 1

    async def _replace(
        self,
        client: CalendarClient,
        connection: CalendarConnection,
        calendar: RemoteCalendar,
        row: CalendarWatch,
    ) -> int:
        """A new channel first, so no change goes unnotified, then the old one stopped."""
        try:
            await self._open(client, connection, calendar)
        except ProviderError as error:
            log.warning("renewing a push channel failed", watch_id=row.id, reason=error.message)
            return 0
        async with self.sessionmaker.begin() as session:
            await session.execute(delete(CalendarWatch).where(CalendarWatch.id == row.id))
        await stop_all(client, [as_watch(row)])
        return 1
