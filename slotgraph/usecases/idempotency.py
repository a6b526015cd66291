"""Idempotency keys (C12), written once for every mutation that takes one (bookMeeting,
rescheduleBooking and its contact twin, createMeeting).

A call with a key first *claims* it: one short transaction inserts the key's row with no
response and the caller's claim token. Exactly one call owns a key at a time; every other
call with the same key waits until the owner's answer is committed and then replays it, so
concurrent twins never run the work twice nor answer `SlotUnavailable` against their own
booking. Keys are rows of their own, so different keys never wait for each other.

- The owner stores its answer in the transaction that completes the work
  (`Claim.complete`): the booking's columns as they were then, and what else the answer
  said (`offline`, `notSynced`). A replay rebuilds the answer from those facts, so it stays
  the first answer even after the booking changed (a later cancel, a move).
- A call that fails gives its claim back (C12: only completed results are stored, so a
  failed attempt may be retried, and its waiting twin then runs instead).
- A claim whose owner died (a killed process never gives it back) lapses after `LEASE`
  of the database's clock; the next caller takes it over. An owner that outlived its lease
  finds its claim gone at completion and rolls its work back (`ClaimLost`), so a key is
  never completed twice.

Why rows and polling rather than `pg_advisory_xact_lock` held across the call: the call
reads calendars live (seconds, provider I/O) between its claim and its write, and holding a
pooled connection for that while waiters hold theirs can exhaust the pool with the owner
itself waiting for a connection. A waiter here holds no connection between its polls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import structlog
from sqlalchemy import DateTime
from sqlalchemy import Enum
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import null
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from slotgraph.models import Booking
from slotgraph.models import IdempotencyKey
from slotgraph.usecases.errors import IdempotencyKeyReusedError
from slotgraph.usecases.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services

log = structlog.get_logger("slotgraph.idempotency")
TTL = dt.timedelta(hours=24)
LEASE = dt.timedelta(seconds=60)
FIRST_POLL = 0.02
MAX_POLL = 0.25
# The booking's columns a replay leaves out: the manage token is shown once (its digest
# answers nothing), and its sealed link is for the contact's emails only (C21).
_NOT_ANSWERED = frozenset({"manage_token_hash", "manage_url_sealed"})


class ClaimLost(Exception):
    """The owner outlived its lease and another call took the key over; the work is
    rolled back with the transaction that tried to complete it."""


def check_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidInput("An idempotency key has 1 to 200 characters.", field="idempotencyKey")


def request_fingerprint(fields: dict[str, Any]) -> str:
    """What an idempotency record compares (C12): the SHA-256 of the request's fields as
    canonical JSON (keys sorted), so the same request always gives the same digest."""
    canonical = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class FirstAnswer:
    """What the completed first call answered: its booking as it was then (a detached
    row, never added to a session) and the rest of its answer."""

    booking: Booking
    answered: dict[str, Any]


@dataclass(slots=True)
class Claim:
    """A key as one call holds it: either `first` (replay it) or owned (do the work and
    `complete` it). Without a key, owned and completing stores nothing."""

    scope: str
    operation: str
    key: str | None
    fingerprint: str
    expires_at: dt.datetime
    first: FirstAnswer | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(16))

    async def complete(self, session: AsyncSession, booking: Booking, **answered: Any) -> None:
        """Store the answer in the transaction that completes the work (flushed first, so
        the booking has its id and defaults)."""
        if self.key is None:
            return
        await session.flush()
        stored = await session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.scope == self.scope,
                IdempotencyKey.key == self.key,
                IdempotencyKey.claim_token == self.token,
                IdempotencyKey.response.is_(None),
            )
            .values(response={**answered, "bookingId": booking.id, "booking": _facts(booking)})
            .returning(IdempotencyKey.key)
        )
        if stored.first() is None:
            raise ClaimLost(self.key)


@asynccontextmanager
async def claimed(
    services: Services, scope: str, operation: str, key: str | None, fingerprint: str
) -> AsyncIterator[Claim]:
    """The key claimed for one call (see the module docstring): replay `claim.first` when
    set, else do the work and `complete` the claim. Leaving without completing (an error,
    or an answer not to be kept) gives the claim back."""
    claim = Claim(scope, operation, key, fingerprint, services.clock() + TTL)
    if key is None:
        yield claim
        return
    await _wait_for_claim(services, claim)
    if claim.first is not None:
        yield claim
        return
    try:
        yield claim
    finally:
        await _release(services, claim)


async def _wait_for_claim(services: Services, claim: Claim) -> None:
    """Own the key, or find its first answer (`claim.first`); waits while another call
    owns it."""
    pause = FIRST_POLL
    async with services.sessionmaker.begin() as session:
        now = services.clock()
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
        if await _try_claim(session, claim):
            return
    while True:
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, MAX_POLL)
        async with services.sessionmaker.begin() as session:
            if await _try_claim(session, claim):
                return


async def _try_claim(session: AsyncSession, claim: Claim) -> bool:
    """One attempt: True when the call now owns the key or has its first answer."""
    key = (IdempotencyKey.scope == claim.scope, IdempotencyKey.key == claim.key)
    inserted = await session.execute(
        insert(IdempotencyKey)
        .values(
            scope=claim.scope,
            key=claim.key,
            operation=claim.operation,
            request_hash=claim.fingerprint,
            response=null(),  # SQL NULL: JSONB would store None as a JSON null
            claim_token=claim.token,
            expires_at=claim.expires_at,
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if inserted.first() is not None:
        return True
    record = (await session.execute(select(IdempotencyKey).where(*key))).scalar_one_or_none()
    if record is None:  # given back meanwhile: claim it on the next attempt
        return False
    if record.operation != claim.operation or record.request_hash != claim.fingerprint:
        raise IdempotencyKeyReusedError(
            "This idempotency key was used for a different request; use a new key for a new "
            "request.",
            field="idempotencyKey",
        )
    if record.response is not None:
        claim.first = await _first_answer(session, record.response)
        if claim.first is None:  # its booking is gone: nothing left to replay
            await session.delete(record)
        return claim.first is not None
    taken_over = await session.execute(
        update(IdempotencyKey)
        .where(
            *key,
            IdempotencyKey.response.is_(None),
            IdempotencyKey.claimed_at < func.clock_timestamp() - LEASE,
        )
        .values(claim_token=claim.token, claimed_at=func.clock_timestamp())
        .returning(IdempotencyKey.key)
    )
    if taken_over.first() is not None:
        log.warning("idempotency claim taken over", scope=claim.scope, operation=claim.operation)
        return True
    return False


async def _release(services: Services, claim: Claim) -> None:
    """Give an uncompleted claim back so a retry (or a waiting twin) may run. Only a row
    whose response is still NULL is deleted: a completed call's response is kept, and a
    call whose work transaction failed after `complete` (its response rolled back) gives
    the key back at once rather than holding it for the lease. When the database is away
    the lease ends it."""
    try:
        async with services.sessionmaker.begin() as session:
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.scope == claim.scope,
                    IdempotencyKey.key == claim.key,
                    IdempotencyKey.claim_token == claim.token,
                    IdempotencyKey.response.is_(None),
                )
            )
    except Exception:  # the call's own error is the one to report
        log.warning("idempotency claim not given back", scope=claim.scope, exc_info=True)


async def _first_answer(session: AsyncSession, response: dict[str, Any]) -> FirstAnswer | None:
    facts = response.get("booking")
    if facts is not None:
        return FirstAnswer(booking=_booking(facts), answered=response)
    # Answers kept before the facts were stored name their booking only.
    booking = await session.get(Booking, response["bookingId"])
    return None if booking is None else FirstAnswer(booking=booking, answered=response)


def _facts(booking: Booking) -> dict[str, Any]:
    """The booking's columns as JSON values."""
    facts: dict[str, Any] = {}
    for column in Booking.__table__.columns:
        if column.key in _NOT_ANSWERED:
            continue
        value = getattr(booking, column.key)
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        facts[column.key] = value
    return facts


def _booking(facts: dict[str, Any]) -> Booking:
    """A detached booking from `_facts`: the first answer's booking as it was."""
    values: dict[str, Any] = {}
    for column in Booking.__table__.columns:
        if column.key not in facts:
            continue
        value = facts[column.key]
        if value is not None and isinstance(column.type, DateTime):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, Enum):
            assert column.type.enum_class is not None
            value = column.type.enum_class(value)
        values[column.key] = value
    return Booking(**values)
