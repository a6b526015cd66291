"""The one calendar interface every provider adapter implements, its value types, and the
provider error tree.

Adapters (Google, Microsoft 365, Exchange) return these frozen dataclasses, never SDK
objects, and raise only `ProviderError` subclasses. Token refresh is kept out of the
adapters: an adapter receives a `TokenSource` (OAuth providers) or a password credential
(Exchange) and asks the source for a fresh token when the provider answers 401.

Error tree (modelled on httpx's `_exceptions.py`):

    ProviderError                 anything a provider call can fail with
    ├── AccessRevoked             the grant is gone (invalid_grant, 401 after refresh): S13
    ├── OAuthDenied               the user declined consent
    ├── OAuthStateInvalid         the redirect's state does not match the flow
    ├── AuthenticationFailed      credentials refused at connect time (Exchange password)
    ├── CalendarGone              one calendar deleted or unshared (404/403 on it): S13, C2
    ├── EventGone                 the event to update was deleted at the provider
    ├── NotOffered                the provider does not offer this operation (C11)
    ├── ServerUnsupported         server too old (Exchange older than 2010 SP2)
    ├── ServerUnreachable         DNS or connect failure to a configured URL
    ├── TlsCertificateUntrusted   the peer's certificate chains to no trusted CA (C46)
    ├── AddressNotAllowed         a user-supplied URL led to a non-public address (C46)
    ├── DiscoveryFailed           Exchange autodiscover found no endpoint
    ├── NotACalDavServer          the URL answers, but leads to no CalDAV calendars (C28)
    ├── CursorExpired             sync cursor no longer valid (410 Gone): full resync
    └── TransientError            worth retrying: timeout, 5xx, throttling
        └── RateLimited           429 / throttled, with the server's Retry-After

Messages are safe to show: they never contain a token, password or response body.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Protocol

from slotgraph.errors import SafeMessageError
from slotgraph.scheduling.intervals import Interval as Interval  # re-exported: one interval type


class ProviderError(SafeMessageError):
    """Base of every provider failure; `message` is safe to show to the user."""


class AccessRevoked(ProviderError):
    """The user revoked the grant or the refresh token expired."""


class OAuthDenied(ProviderError):
    """The user declined consent (`error=access_denied` on the redirect)."""


class OAuthStateInvalid(ProviderError):
    """The redirect's `state` does not match the flow we started."""


class AuthenticationFailed(ProviderError):
    """The credentials were refused (wrong password, or an app password is needed)."""


class CalendarGone(ProviderError):
    def __init__(self, message: str, calendar_id: str) -> None:
        super().__init__(message)
        self.calendar_id = calendar_id


class EventGone(ProviderError):
    """The event to update no longer exists (deleted in the calendar app, or with its
    calendar). Task sync (S10) answers it by writing a new event."""


class NotOffered(ProviderError):
    """The provider does not offer this operation."""


class ServerUnsupported(ProviderError):
    """The server's version is below what we support."""


class ServerUnreachable(ProviderError):
    """The server could not be reached at all."""


class TlsCertificateUntrusted(ProviderError):
    """The peer's certificate does not chain to a trusted CA (C46): the operator adds an
    internal CA with SLOTGRAPH_CA_BUNDLE."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "The server's TLS certificate is not signed by a trusted certificate authority. "
            "If it uses an internal CA, the operator adds that CA with the "
            "SLOTGRAPH_CA_BUNDLE setting."
        )


class AddressNotAllowed(ProviderError):
    """A user-supplied URL led to a loopback, link-local or private address that the
    operator does not allow (C46)."""


class DiscoveryFailed(ProviderError):
    """Autodiscover found no endpoint for the address."""


class NotACalDavServer(ProviderError):
    """The URL answers, but not as a CalDAV server (no principal, no calendar home, no
    event calendar, or answers that are not WebDAV): C28."""


class CursorExpired(ProviderError):
    """The incremental-sync cursor is no longer accepted: run a full sync."""


class TransientError(ProviderError):
    """A failure that may pass: timeouts, 5xx, throttling."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """Throttled (429 or the provider's equivalent); `retry_after` is in seconds."""


class Access(enum.StrEnum):
    """The connected account's access to a calendar (mirrors
    slotgraph.models.enums.CalendarAccess)."""

    OWNER = "OWNER"
    WRITER = "WRITER"
    READER = "READER"
    FREE_BUSY_READER = "FREE_BUSY_READER"


@dataclass(frozen=True, slots=True)
class RemoteCalendarInfo:
    """One calendar the account reaches, as `list_calendars` and `create_calendar` answer;
    the caller stores it as a `RemoteCalendar` row (adapters know nothing of our tables)."""

    remote_id: str
    name: str
    time_zone: str
    access: Access
    is_primary: bool
    # Google's "See all event details": calendars without it are not offered (S12).
    can_see_all_details: bool = True
    color: str | None = None  # as the provider shows it (CalDAV: "#RRGGBB[AA]")


def owned_calendar(remote_id: str, name: str, time_zone: str) -> RemoteCalendarInfo:
    """A (sub-)calendar the account just created, e.g. for task sync (S10)."""
    return RemoteCalendarInfo(
        remote_id=remote_id, name=name, time_zone=time_zone, access=Access.OWNER, is_primary=False
    )


@dataclass(frozen=True, slots=True)
class FreeBusy:
    """Busy time per calendar id; calendars that failed are in `errors` (not busy-free!)."""

    busy: dict[str, tuple[Interval, ...]]
    errors: dict[str, ProviderError] = field(default_factory=dict)


class EventStatus(enum.StrEnum):
    """The event's own status at the provider (the owner's answer to it is `Response`); a
    CANCELLED event leaves its time free (C4)."""

    CONFIRMED = "CONFIRMED"
    TENTATIVE = "TENTATIVE"
    CANCELLED = "CANCELLED"


class Response(enum.StrEnum):
    """The calendar owner's own answer to the event (ORGANIZER for their own events)."""

    ORGANIZER = "ORGANIZER"
    ACCEPTED = "ACCEPTED"
    TENTATIVE = "TENTATIVE"
    DECLINED = "DECLINED"
    NEEDS_ACTION = "NEEDS_ACTION"


class ShowAs(enum.StrEnum):
    """How the event shows its owner's time (Google's transparency and event type, Graph's
    showAs, EWS's free/busy status, iCalendar's TRANSP); FREE and WORKING_ELSEWHERE leave
    it free (C4)."""

    BUSY = "BUSY"
    TENTATIVE = "TENTATIVE"
    OUT_OF_OFFICE = "OUT_OF_OFFICE"
    WORKING_ELSEWHERE = "WORKING_ELSEWHERE"
    FREE = "FREE"


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    """One event as the sync engine sees it. Timed events carry aware UTC start/end;
    all-day events carry `all_day=True` with `start`/`end` at UTC midnight of their dates
    (end exclusive), to be placed in the calendar's own zone by `busy_interval` (C4)."""

    remote_id: str
    start: dt.datetime
    end: dt.datetime
    all_day: bool
    status: EventStatus
    show_as: ShowAs
    response: Response
    is_private: bool = False
    title: str | None = None  # None for private events: details are never shown (C4)


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """A page of changes since a cursor: changed or new events, removed event ids, and
    the cursor to pass next time (None while more pages follow in `next_page`). `skipped`:
    ids of items the adapter could not read (`slotgraph.providers.unreadable`)."""

    changed: tuple[RemoteEvent, ...]
    removed: tuple[str, ...]
    next_cursor: str | None
    next_page: str | None = None
    skipped: tuple[str, ...] = ()

    @classmethod
    def page_of(
        cls,
        changed: Sequence[RemoteEvent],
        removed: Sequence[str],
        *,
        next_page: str | None,
        cursor: str | None,
        skipped: Sequence[str] = (),
    ) -> ChangeSet:
        """One page of an answer: the provider's `cursor` counts only on the last page
        (while `next_page` follows, there is none yet)."""
        return cls(
            changed=tuple(changed),
            removed=tuple(removed),
            next_cursor=None if next_page else cursor,
            next_page=next_page or None,
            skipped=tuple(skipped),
        )


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event we write. `idempotency_key` makes retried creates land once (Google: event
    id; Graph: transactionId; EWS: an extended property looked up before creating)."""

    title: str
    start: dt.datetime
    end: dt.datetime
    time_zone: str
    attendees: tuple[Attendee, ...] = ()
    description: str = ""
    location: str | None = None
    idempotency_key: str | None = None
    send_invitations: bool = True
    # Shown as free, so it blocks no one's time (task events, S10).
    transparent: bool = False


@dataclass(frozen=True, slots=True)
class Watch:
    """A push channel on one calendar (push-driven sync, C16): Google's `events.watch`
    channel or a Graph change-notification subscription. `id` is the provider's id for it
    (Google: the channel id we chose; Graph: the subscription id), `resource_id` Google's id
    of the watched resource (needed to stop the channel; None on Graph)."""

    id: str
    resource_id: str | None
    expires_at: dt.datetime


class CalendarClient(Protocol):
    """What Slotgraph needs from a connected calendar account."""

    async def list_calendars(self) -> list[RemoteCalendarInfo]:
        """Calendars the account owns or can access, primary first."""
        ...

    async def free_busy(
        self, calendar_ids: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> FreeBusy:
        """Busy intervals per calendar over `[start, end)`, splitting requests at the
        provider's documented limits; a calendar that fails is reported in `errors`."""
        ...

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        """Create (once, per `draft.idempotency_key`) and return the remote event id."""
        ...

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None: ...

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Delete; deleting an event that is already gone is not an error."""
        ...

    async def create_calendar(self, name: str) -> RemoteCalendarInfo:
        """A new (sub-)calendar owned by the account, e.g. for task sync (S10)."""
        ...

    async def list_changes(
        self, calendar_id: str, cursor: str | None, window: Interval, page: str | None = None
    ) -> ChangeSet:
        """Changes since `cursor` (None: a full listing of `window`), `page` continuing an
        answer that had more. Raises `CursorExpired` when the provider no longer accepts the
        cursor."""
        ...

    async def watch(
        self, calendar_id: str, *, channel_id: str, address: str, token: str, ttl: dt.timedelta
    ) -> Watch:
        """Ask the provider to notify `address` of changes to the calendar's events for
        about `ttl` (providers may shorten it: see `Watch.expires_at`). `token` comes back
        with every notification (Google's channel token, Graph's clientState); `channel_id`
        is our id for the channel (Google uses it; Graph picks its own). `NotOffered` where
        the provider has no push (Exchange: polling continues)."""
        ...

    async def renew_watch(self, watch: Watch, ttl: dt.timedelta) -> Watch:
        """Extend a watch; `NotOffered` where channels cannot be extended (Google: open a
        new channel and stop the old one instead)."""
        ...

    async def stop_watch(self, watch: Watch) -> None:
        """Stop a watch; one the provider no longer knows is not an error."""
        ...


TokenSource = Callable[[bool], Awaitable[str]]
"""Returns an access token; called with True after a 401 to force a refresh. Raises
`AccessRevoked` when the grant cannot be refreshed."""


def chunked(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """`items` in consecutive pieces of at most `size` (provider per-call limits)."""
    for index in range(0, len(items), size):
        yield items[index : index + size]


def windows(start: dt.datetime, end: dt.datetime, max_span: dt.timedelta) -> Iterator[Interval]:
    """`[start, end)` cut into consecutive windows no longer than `max_span`."""
    cursor = start
    while cursor < end:
        stop = min(cursor + max_span, end)
        yield Interval(cursor, stop)
        cursor = stop
