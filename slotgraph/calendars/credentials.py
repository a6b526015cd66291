"""The credential store (encrypted provider secrets) and token sources for adapters.

Secrets are decrypted only here and only for the duration of a call; they never reach a
GraphQL type, a log line or an error message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import inspect
from sqlalchemy import select

from slotgraph.calendars.lost_access import mark_access_lost
from slotgraph.clock import utc_now
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import Credential
from slotgraph.models import WebhookEndpoint
from slotgraph.models.base import Base
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import TokenSource

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.models.crypto import CredentialCipher
    from slotgraph.notices.pubsub import PubSub
    from slotgraph.providers.registry import OAuthProvider


# Every column sealed with the store's cipher (`rotate_all` re-encrypts them all).
SEALED: tuple[tuple[type[Base], str], ...] = (
    (Credential, "ciphertext"),
    (WebhookEndpoint, "secrets"),
    (Booking, "manage_url_sealed"),
)
BATCH = 500


class CredentialStore:
    """`pubsub` tells subscribers when a revoked grant marks a connection ACCESS_LOST;
    None in processes nobody subscribes to (the CLI). `clock` is the process's "now" (C17),
    which stamps key rotations."""

    def __init__(
        self,
        cipher: CredentialCipher,
        pubsub: PubSub | None = None,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._cipher = cipher
        self._pubsub = pubsub
        self._clock = clock
        # One refresh at a time per connection in this process: concurrent requests that
        # all see an expired token would otherwise each spend a refresh.
        self._refresh_locks: dict[int, asyncio.Lock] = {}
        # Renewed tokens saved per connection by this process's token sources: a secret
        # decrypted before a renewal is stale (`token_source`'s `loaded`).
        self._renewals: dict[int, int] = {}

    def seal(self, value: dict[str, Any]) -> bytes:
        """Encrypt a short-lived secret that is not a credential row (an OAuth flow)."""
        return self._cipher.encrypt(value)

    def unseal(self, ciphertext: bytes) -> dict[str, Any]:
        return self._cipher.decrypt(ciphertext)

    async def save(
        self, session: AsyncSession, connection: CalendarConnection, secret: dict[str, Any]
    ) -> None:
        existing = await session.get(Credential, connection.id)
        ciphertext = self._cipher.encrypt(secret)
        if existing is None:
            session.add(
                Credential(
                    connection_id=connection.id,
                    account_id=connection.account_id,
                    ciphertext=ciphertext,
                )
            )
        else:
            existing.ciphertext = ciphertext
        await session.flush()

    async def load(self, session: AsyncSession, connection_id: int) -> dict[str, Any] | None:
        row = await session.get(Credential, connection_id)
        return None if row is None else self._cipher.decrypt(row.ciphertext)

    async def rotate_all(self, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        """Re-encrypt everything sealed with this store's cipher under the newest key, so the
        older keys can be dropped afterwards: credentials, webhook signing secrets and the
        bookings' manage links (`SEALED`); returns how many values. Batches of `BATCH` rows,
        one short transaction each, so a large bookings table never sits under one lock."""
        now = self._clock()
        total = 0
        for model, attribute in SEALED:
            total += await self._rotate_column(sessionmaker, model, attribute, now)
        return total

    async def _rotate_column(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        model: type[Base],
        attribute: str,
        now: dt.datetime,
    ) -> int:
        mapper = inspect(model)
        (key,) = mapper.primary_key
        key_name = mapper.get_property_by_column(key).key
        column = getattr(model, attribute)
        done, last = 0, None
        while True:
            async with sessionmaker.begin() as session:
                query = select(model).where(column.is_not(None)).order_by(key).limit(BATCH)
                if last is not None:
                    query = query.where(key > last)
                rows = (await session.execute(query.with_for_update())).scalars().all()
                for row in rows:
                    setattr(row, attribute, self._cipher.rotate(getattr(row, attribute)))
                    if isinstance(row, Credential):
                        row.rotated_at = now
            if not rows:
                return done
            done += len(rows)
            last = getattr(rows[-1], key_name)

    def token_source(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        provider: OAuthProvider,
        connection_id: int,
        loaded: dict[str, Any] | None = None,
    ) -> TokenSource:
        """Access tokens for one connection: refreshed when needed (or forced after a 401)
        and persisted; a revoked grant marks the connection ACCESS_LOST (S13, C2).
        `loaded`: the secret the caller has just decrypted; the first call uses it instead
        of reading and decrypting the row again, unless a token source of this process
        renewed the connection's token in between (then the row is newer). Later calls
        read the row, which may have been renewed meanwhile."""
        lock = self._refresh_locks.setdefault(connection_id, asyncio.Lock())
        renewals = self._renewals.get(connection_id, 0)
        preloaded = [loaded] if loaded is not None else []

        async def get(force: bool) -> str:
            async with lock:
                secret = preloaded.pop() if preloaded else None
                if secret is None or self._renewals.get(connection_id, 0) != renewals:
                    async with sessionmaker() as session:
                        secret = await self.load(session, connection_id)
                if secret is None:
                    raise AccessRevoked("This calendar was disconnected; connect it again.")
                try:
                    token, renewed = await provider.access_token(secret, force=force)
                except AccessRevoked:
                    await mark_access_lost(sessionmaker, connection_id, self._pubsub)
                    raise
                if renewed is not None:
                    async with sessionmaker.begin() as session:
                        connection = await session.get_one(CalendarConnection, connection_id)
                        await self.save(session, connection, renewed)
                    self._renewals[connection_id] = self._renewals.get(connection_id, 0) + 1
                return token

        return get
