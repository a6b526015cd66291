"""Which public operation gets which limit (C25, C33, C34).

Only anonymous calls are limited; a token's calls are its owner's. Strict limits, counted
in PostgreSQL across every process (`slotgraph.limits.counters`):
- anonymous writes per client address (bookMeeting, the contact's reschedule and cancel,
  bookingFormPrefill and managedBooking look-ups: everything that writes, sends mail or
  tests a secret);
- anonymous bookings per page, and per contact email per page per day (24 hours from the
  first one counted). Only bookings made count: `admit_booking` (after the page is found
  and any bot check passed) refuses a page or email already at its limit, counting nothing,
  and `count_booking` counts in the booking's own transaction, so an attempt that fails
  (slot taken, outside the hours) leaves no trace. Otherwise anyone could use up a page's
  or a contact's bookings with failing attempts from many addresses. The per-address write
  limit still counts every attempt: it is the one that stops a client probing.
Loose limits, counted per process (`slotgraph.limits.local`): anonymous reads
(schedulingPage, availableSlots, public subscriptions) per client address and per page;
anonymous sockets per client address, and operations per anonymous socket.

Past a limit the call raises `RateLimitedError` with the seconds until it would be admitted.
Clients are counted by `slotgraph.limits.addresses.limit_key`; emails only as digests.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from slotgraph.limits.addresses import UNKNOWN
from slotgraph.limits.addresses import TrustedProxies
from slotgraph.limits.addresses import client_address
from slotgraph.limits.addresses import limit_key
from slotgraph.limits.botcheck import UNAVAILABLE
from slotgraph.limits.counters import SharedCounters
from slotgraph.limits.local import LocalCounters
from slotgraph.models import CalendarSettings
from slotgraph.usecases.errors import BotCheckUnavailableError
from slotgraph.usecases.errors import RateLimitedError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.limits.botcheck import BotCheck

log = structlog.get_logger("slotgraph.limits")
DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """The numbers (`SLOTGRAPH_PUBLIC_*`, README "Limits")."""

    writes_per_address: int = 20
    writes_window_seconds: int = 600
    bookings_per_page: int = 100
    bookings_per_page_window_seconds: int = 3_600
    bookings_per_email_per_page_per_day: int = 3
    reads_per_address: int = 300
    reads_per_page: int = 1_200
    reads_window_seconds: int = 60
    sockets_per_address: int = 10
    subscriptions_per_socket: int = 10


def _retry(message: str, seconds: int, field: str | None = None) -> RateLimitedError:
    error = RateLimitedError(f"{message}; retry in {seconds} seconds.", retry_after_seconds=seconds)
    error.field = field
    return error


@dataclass(frozen=True, slots=True)
class _BookingLimit:
    """One shared counter a booking is held to: its key, how many it admits per window,
    and the refusal past it (with the input `field` to blame, if one)."""

    key: str
    limit: int
    window_seconds: int
    message: str
    field: str | None = None

    def refusal(self, seconds: int) -> RateLimitedError:
        return _retry(self.message, seconds, self.field)


def _booking_limits(policy: LimitPolicy, page_id: int, email: str) -> tuple[_BookingLimit, ...]:
    """The bookings limits of a page and contact email, the email's first: always in this
    order, so concurrent bookings lock the counters' rows in the same order."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    per_email = policy.bookings_per_email_per_page_per_day
    return (
        _BookingLimit(
            f"book-email:{page_id}:{digest}",
            per_email,
            DAY_SECONDS,
            f"This email address booked this page {per_email} times today",
            "contact.email",
        ),
        _BookingLimit(
            f"book-page:{page_id}",
            policy.bookings_per_page,
            policy.bookings_per_page_window_seconds,
            "This page is taking too many bookings right now",
        ),
    )


class PublicLimits:
    """The limits of one process; `unlimited()` (tools, seeding) admits everything."""

    def __init__(
        self,
        policy: LimitPolicy | None,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        bot_check: BotCheck | None = None,
        trusted_proxies: TrustedProxies | None = None,
    ) -> None:
        self.policy = policy
        self.trusted_proxies = trusted_proxies or TrustedProxies()
        self.bot_check = bot_check
        self._sessionmaker = sessionmaker
        self._shared = SharedCounters(sessionmaker) if sessionmaker is not None else None
        self._local = LocalCounters()
        self._sockets: Counter[str] = Counter()

    def client_address(self, peer: str | None, forwarded_for: list[str]) -> str:
        """The client address of a request (`slotgraph.limits.addresses`), for callers that
        run operations on a request's behalf (the booking pages)."""
        return client_address(peer, forwarded_for, self.trusted_proxies)

    @classmethod
    def unlimited(cls) -> PublicLimits:
        return cls(None)

    async def _strict(self, key: str, limit: int, window: int) -> int | None:
        if self._shared is None:
            return None
        hit = await self._shared.hit(key, window)
        return hit.window_left_seconds if hit.hits > limit else None

    async def admit_write(self, client: str | None) -> None:
        """An anonymous write from `client` (C33: strict)."""
        policy = self.policy
        if policy is None:
            return
        key = f"write:{limit_key(client or UNKNOWN)}"
        wait = await self._strict(key, policy.writes_per_address, policy.writes_window_seconds)
        if wait is not None:
            raise _retry("Too many requests from your address", wait)

    def admit_read(self, client: str | None, page: str | None = None) -> None:
        """An anonymous read from `client`, of the page named `page` if one is (C33: loose)."""
        policy = self.policy
        if policy is None:
            return
        window = policy.reads_window_seconds
        key = f"read:{limit_key(client or UNKNOWN)}"
        wait = self._local.hit(key, policy.reads_per_address, window)
        if wait is not None:
            raise _retry("Too many requests from your address", wait)
        if page is not None:
            wait = self._local.hit(f"read-page:{page.lower()[:300]}", policy.reads_per_page, window)
            if wait is not None:
                raise _retry("This page is asked for too often right now", wait)

    async def admit_booking(
        self,
        client: str | None,
        *,
        page_id: int,
        host_id: int,
        email: str,
        bot_check_token: str | None,
    ) -> None:
        """Before an anonymous booking of page `page_id` is tried (after the address limit):
        the host's bot check (C34), then whether the email and the page have bookings left."""
        policy = self.policy
        if policy is None:
            return
        await self._check_bot(client, host_id, bot_check_token)
        if self._shared is None:
            return
        for limit in _booking_limits(policy, page_id, email):
            seen = await self._shared.peek(limit.key)
            if seen.hits >= limit.limit:
                raise limit.refusal(seen.window_left_seconds)

    async def count_booking(self, session: AsyncSession, *, page_id: int, email: str) -> None:
        """Count an anonymous booking in the transaction that makes it; past a limit (others
        booked meanwhile) raise, which rolls the booking back."""
        policy = self.policy
        if policy is None or self._shared is None:
            return
        for limit in _booking_limits(policy, page_id, email):
            hit = await self._shared.hit_in(session, limit.key, limit.window_seconds)
            if hit.hits > limit.limit:
                raise limit.refusal(hit.window_left_seconds)

    async def bot_check_required(self, host_id: int) -> bool:
        """Whether the host turned the bot check on for their pages (C34)."""
        if self._sessionmaker is None:
            return False
        async with self._sessionmaker() as session:
            required = (
                await session.execute(
                    select(CalendarSettings.bot_check_required).where(
                        CalendarSettings.user_id == host_id
                    )
                )
            ).scalar_one_or_none()
        return bool(required)

    async def _check_bot(self, client: str | None, host_id: int, token: str | None) -> None:
        if not await self.bot_check_required(host_id):
            return
        if self.bot_check is None:  # the operator removed the verifier: fail closed (C34)
            log.error("bot check required by a host but no verifier configured", host=host_id)
            raise BotCheckUnavailableError(UNAVAILABLE)
        await self.bot_check.verify(token, client if client != UNKNOWN else None)

    def open_socket(self, client: str | None) -> bool:
        """Take a place for an anonymous socket of `client` in this process; False past
        the cap. Every True is followed by `close_socket`."""
        if self.policy is None:
            return True
        key = limit_key(client or UNKNOWN)
        if self._sockets[key] >= self.policy.sockets_per_address:
            return False
        self._sockets[key] += 1
        return True

    def close_socket(self, client: str | None) -> None:
        key = limit_key(client or UNKNOWN)
        self._sockets[key] -= 1
        if self._sockets[key] <= 0:
            del self._sockets[key]
