"""Exchange (EWS) adapter: connecting an Exchange 2010 SP2+ mailbox (S2) and the
`CalendarClient` for it, with create, update and delete so that cancel and reschedule work on
Exchange too (C11 lifts the S11 limits).

exchangelib is synchronous and blocking, so every call runs in a worker thread under the
caller's `CapacityLimiter` (a slow Exchange server cannot starve the event loop), each HTTP
request carries the caller's timeout, and each call has an overall deadline after which the
thread is abandoned: a server that keeps failing yields a typed `ProviderError`, never a hang.
Client calls are retried with `with_retries`, honouring Exchange's `BackOffMilliseconds`.

Identifiers. The primary calendar's remote id is the mailbox address: it is what
GetUserAvailability takes and it does not change when Exchange re-encodes folder ids.
Sub-calendars are EWS folder ids.

Free/busy. Mailbox addresses go through GetUserAvailability (Detailed view) in requests of at
most 100 mailboxes and 42 days, Exchange's limits, asked in UTC (exchangelib's
`get_free_busy_info` would first fetch the server's zone list for a local zone). The
availability service already leaves out cancelled and declined meetings and reports all-day
events as the owner's midnights. Its `BusyType` is mapped by the C4 rules, and `NoData`
(Exchange cannot tell) is an error for that calendar, never free time; a mailbox Exchange
cannot find or show is `CalendarGone`. Sub-calendars are invisible to the availability service,
so their busy time comes from a calendar view of the folder through the same C4 rules.

All-day items are reported as dates: the item's instants read in its own start zone (the
mailbox's zone when it names none), then placed in the calendar's zone by `busy_interval`
(C4). The mailbox zone comes from the mailbox's OWA settings, else its calendar working hours,
never from the server process. exchangelib's own all-day conversion is bypassed: it subtracts
24 hours from the end instant, which gives the wrong date when the last day is a DST day.

Sync (`list_changes`). The cursor wraps the SyncFolderItems sync state. A full listing takes a
sync state first and then the calendar view of the window, so a change made in between is
reported again rather than lost. Incremental pages report single items as they change. EWS
reports a change to any occurrence of a recurring series as a change of its master, without
saying which occurrences appeared or vanished, so a changed or deleted series answers
`CursorExpired`: the caller runs a full listing of the window, which is exact. To recognise a
deleted master, the cursor carries short fingerprints of the calendar's recurring masters.

Idempotent creates. `EventDraft.idempotency_key` is stored in a custom extended property and
looked up (FindItem with a restriction) before creating, so a retried create lands once.
(Two concurrent creates with one key can both miss the lookup: the key covers retries.)

Secrets. The password lives in `ExchangeCredentials` (hidden from its repr) and exchangelib's
`Credentials` (masked in its repr); exchangelib's debug record of each POST lists the request
headers, Basic credentials included, so a logging filter redacts that header. Error messages
are ours, never exchangelib's (which may quote a response body).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
import requests
import structlog
from defusedxml.ElementTree import fromstring as parse_xml  # type: ignore[import-untyped]
from exchangelib import (  # type: ignore[import-untyped]
    DELEGATE,
    Account,
    Build,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
    FailFast,
    Version,
)
from exchangelib.autodiscover.discovery import Autodiscovery  # type: ignore[import-untyped]
from exchangelib.errors import (  # type: ignore[import-untyped]
    AutoDiscoverError,
    CASError,
    ErrorAccessDenied,
    ErrorExceededConnectionCount,
    ErrorFolderExists,
    ErrorFolderNotFound,
    ErrorInternalServerError,
    ErrorInternalServerTransientError,
    ErrorInvalidIdMalformed,
    ErrorInvalidSchemaVersionForMailboxVersion,
    ErrorInvalidServerVersion,
    ErrorInvalidSyncStateData,
    ErrorItemNotFound,
    ErrorMailboxMoveInProgress,
    ErrorMailboxStoreUnavailable,
    ErrorMailRecipientNotFound,
    ErrorNoFreeBusyAccess,
    ErrorNonExistentMailbox,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    EWSError,
    MalformedResponseError,
    RedirectError,
    ResponseMessageError,
    TransportError,
    UnauthorizedError,
    UnknownTimeZone,
)
from exchangelib.fields import FieldPath  # type: ignore[import-untyped]
from exchangelib.folders import Calendar, FolderCollection, Root  # type: ignore[import-untyped]
from exchangelib.items import (  # type: ignore[import-untyped]
    ALL_OCCURRENCES,
    ID_ONLY,
    MOVE_TO_DELETED_ITEMS,
    SEND_TO_ALL_AND_SAVE_COPY,
    SEND_TO_NONE,
)
from exchangelib.properties import (  # type: ignore[import-untyped]
    Attendee as EwsAttendee,
)
from exchangelib.properties import (
    CalendarView,
    DaylightTime,
    DistinguishedFolderId,
    FreeBusyViewOptions,
    Mailbox,
    MailboxData,
    StandardTime,
    TimeWindow,
    TimeZone,
    UserConfigurationNameMNS,
)
from exchangelib.services import (  # type: ignore[import-untyped]
    CreateFolder,
    FindItem,
    GetUserAvailability,
    GetUserConfiguration,
    SyncFolderItems,
)
from exchangelib.version import EXCHANGE_2010_SP2, VERSIONS  # type: ignore[import-untyped]
from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP  # type: ignore[import-untyped]

from slotgraph.providers.base import (
    Access,
    AccessRevoked,
    AuthenticationFailed,
    CalendarGone,
    ChangeSet,
    CursorExpired,
    DiscoveryFailed,
    EventDraft,
    EventStatus,
    FreeBusy,
    Interval,
    NotOffered,
    ProviderError,
    RateLimited,
    RemoteCalendarInfo,
    RemoteEvent,
    Response,
    ServerUnreachable,
    ServerUnsupported,
    ShowAs,
    TransientError,
    Watch,
    chunked,
    windows,
)
from slotgraph.providers.busy import all_day_span, busy_interval, merge_spans
from slotgraph.providers.retry import PATIENT, RetryPolicy, with_retries

T = TypeVar("T")

log = structlog.get_logger("slotgraph.exchange")

MIN_BUILD_TEXT: Final = "Exchange 2010 SP2"
FREE_BUSY_MAX_MAILBOXES: Final = 100
FREE_BUSY_MAX_SPAN: Final = dt.timedelta(days=42)
SYNC_PAGE_SIZE: Final = 512  # the most SyncFolderItems returns per call
# Each EWS operation may take several HTTP requests (auth-type and version probing, paging);
# each request is bounded by `timeout`, the whole call by `timeout` times these factors.
CLIENT_DEADLINE_FACTOR: Final = 10
# A whole connect (autodiscover, version probing, every username tried) answers within this:
# exchangelib probes many URLs and versions, each bounded only by `timeout` (#4).
CONNECT_DEADLINE: Final = 30.0
MAX_CONNECTIONS: Final = 4  # sessions per login; Exchange throttles concurrent connections

AUTH_FAILED_MESSAGE: Final = (
    "Exchange refused the email, username or password. Accounts with two-factor "
    "authentication must use an app password instead of the usual password."
)

_PRIMARY_FOLDER = "calendar"
_CALENDAR_CLASS = "IPF.Appointment"

# Fields of a calendar item the sync engine needs, asked for explicitly in FindItem and
# SyncFolderItems. All-day-ness is read from its MAPI property rather than `IsAllDayEvent`:
# given `IsAllDayEvent`, exchangelib turns the item's instants into dates by subtracting 24
# hours from the end, which lands on the wrong date when the last day is a 23-hour DST day.
_EVENT_FIELDS: Final = (
    "start",
    "end",
    "_start_timezone",
    "_end_timezone",
    "legacy_free_busy_status",
    "is_cancelled",
    "my_response_type",
    "sensitivity",
    "subject",
    "type",
)


class _AllDay(ExtendedProperty):  # type: ignore[misc]
    """PidLidAppointmentSubType, the MAPI property behind EWS's IsAllDayEvent."""

    distinguished_property_set_id = "Appointment"
    property_id = 0x8215
    property_type = "Boolean"


class _IdempotencyKey(ExtendedProperty):  # type: ignore[misc]
    """Slotgraph's idempotency key on the items it creates (a named MAPI string property in
    Slotgraph's own property set, invisible to users)."""

    property_set_id = "5107a9a0-7c1e-4d4b-9a57-8f2d3c6e1b11"
    property_name = "SlotgraphIdempotencyKey"
    property_type = "String"


_KEY_FIELD: Final = "slotgraph_idempotency_key"
_ALL_DAY_FIELD: Final = "slotgraph_all_day"
for _name, _property in ((_KEY_FIELD, _IdempotencyKey), (_ALL_DAY_FIELD, _AllDay)):
    if _name not in {f.name for f in CalendarItem.FIELDS}:
        CalendarItem.register(_name, _property)


class _Availability(GetUserAvailability):  # type: ignore[misc]
    """GetUserAvailability that reports every per-mailbox error in place (exchangelib would
    raise some of them, e.g. ErrorNoFreeBusyAccess, and lose the other mailboxes' answers)."""

    ERRORS_TO_CATCH_IN_RESPONSE = (TransportError,)


class _Autodiscovery(Autodiscovery):  # type: ignore[misc]
    """exchangelib's autodiscover with DNS lookups bounded by our timeout (its default is ten
    seconds per lookup, and up to four lookups run when autodiscover fails)."""

    def __init__(self, email: str, credentials: Any, dns_timeout: float) -> None:
        super().__init__(email=email, credentials=credentials)
        self.DNS_RESOLVER_ATTRS = {"timeout": dns_timeout}
        self.DNS_RESOLVER_LIFETIME = dns_timeout


class _RedactAuthorization(logging.Filter):
    """exchangelib's debug record of every POST lists the request headers, Basic credentials
    included: replace the Authorization header before any handler sees the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, Mapping) and isinstance(args.get("request_headers"), Mapping):
            headers = cast(Mapping[str, object], args["request_headers"])
            record.args = {
                **args,
                "request_headers": {
                    name: "<redacted>" if name.lower() == "authorization" else value
                    for name, value in headers.items()
                },
            }
        return True


_exchangelib_http_log = logging.getLogger("exchangelib.util")
if not any(isinstance(f, _RedactAuthorization) for f in _exchangelib_http_log.filters):
    _exchangelib_http_log.addFilter(_RedactAuthorization())


@dataclass(frozen=True, slots=True)
class ExchangeCredentials:
    """What the user types to connect Exchange (S2). `username` defaults to the email address;
    `ews_url` to autodiscover."""

    email: str
    password: str = field(repr=False)
    username: str | None = None
    ews_url: str | None = None

    def __repr__(self) -> str:
        return (
            f"ExchangeCredentials(email={self.email!r}, username={self.username!r}, "
            f"ews_url={self.ews_url!r}, password=<hidden>)"
        )


@dataclass(frozen=True, slots=True)
class ExchangeAccountInfo:
    """A validated Exchange login: what to store to build `ExchangeCalendarClient` later.
    `version` is the EWS API version (e.g. "Exchange2010_SP2"), `build` the server build,
    `username` the login name the server accepted, `time_zone` the mailbox's IANA zone."""

    email: str
    ews_url: str
    version: str
    build: str
    time_zone: str
    username: str


# -- connecting --------------------------------------------------------------------------


async def connect_exchange(
    creds: ExchangeCredentials,
    *,
    limiter: anyio.CapacityLimiter,
    timeout: float,  # noqa: ASYNC109 - bounds each HTTP request made in the worker thread
    deadline: float = CONNECT_DEADLINE,
) -> ExchangeAccountInfo:
    """Validate an Exchange login (S2): find the EWS URL (given, or by autodiscover), refuse
    servers older than 2010 SP2, check the password and read the mailbox's time zone.

    Without an explicit username the email address is tried first, then the part before the
    "@", the two forms Exchange servers usually accept.
    Raises AuthenticationFailed (with the app-password hint), ServerUnsupported,
    ServerUnreachable or DiscoveryFailed, each with a message safe to show; all of it within
    `deadline` seconds, however many probes exchangelib would still make.
    """
    failure: AuthenticationFailed | None = None
    ends_at = anyio.current_time() + deadline

    def remaining() -> float:
        return max(0.0, ends_at - anyio.current_time())

    for username in _username_candidates(creds):
        if failure is not None and remaining() <= 0:
            break  # out of time: the refusal already seen is the better answer
        try:
            ews_url = creds.ews_url
            if not ews_url:
                ews_url = await _run_in_thread(
                    partial(_discover, creds.email, username, creds.password, timeout),
                    limiter=limiter,
                    deadline=remaining(),
                    on_deadline=lambda: DiscoveryFailed(
                        "Autodiscover did not find the Exchange server in time; enter the EWS URL."
                    ),
                    translate=_discovery_error,
                )
            await _check_host_resolves(ews_url, min(timeout, remaining()))
            return await _run_in_thread(
                partial(_validate, creds.email, username, creds.password, ews_url, timeout),
                limiter=limiter,
                deadline=remaining(),
                on_deadline=lambda: ServerUnreachable(
                    "The Exchange server did not answer in time; check the EWS URL."
                ),
                translate=_connect_error,
            )
        except AuthenticationFailed as error:
            failure = error
    assert failure is not None
    raise failure


async def _check_host_resolves(url: str, timeout: float) -> None:  # noqa: ASYNC109 - DNS bound
    """Fail fast on a host name that does not resolve: requests' timeouts do not cover name
    resolution, which can hang for long where DNS answers nothing."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerUnreachable("The EWS URL is not an http(s) URL; check the EWS URL.")
    try:
        with anyio.fail_after(timeout):
            await anyio.getaddrinfo(parts.hostname, parts.port or 443)
    except (OSError, TimeoutError):
        raise ServerUnreachable(
            "The EWS URL's host name could not be resolved; check the EWS URL."
        ) from None


def _username_candidates(creds: ExchangeCredentials) -> list[str]:
    if creds.username:
        return [creds.username]
    local_part = creds.email.split("@", 1)[0]
    return [creds.email] if local_part == creds.email else [creds.email, local_part]


def _discover(email: str, username: str, password: str, timeout: float) -> str:
    """The EWS URL autodiscover finds for `email` (exchangelib's SOAP autodiscover)."""
    dns_timeout = max(timeout / 4, 0.5)
    _, protocol = _Autodiscovery(email, Credentials(username, password), dns_timeout).discover()
    url = protocol.service_endpoint
    if not url:
        raise DiscoveryFailed("Autodiscover returned no EWS URL; enter the EWS URL.")
    return str(url)


def _validate(
    email: str, username: str, password: str, ews_url: str, timeout: float
) -> ExchangeAccountInfo:
    account = _make_account(email, username, password, ews_url, None, timeout)
    version = account.protocol.version  # ConvertId probing, newest API version first
    if version.build is None or version.build < EXCHANGE_2010_SP2:
        raise ServerUnsupported(
            f"Slotgraph needs {MIN_BUILD_TEXT} or newer; this server reports build "
            f"{version.build} ({version.api_version})."
        )
    time_zone = _mailbox_zone(account)
    _primary_folder(account)  # proves the login may open its own calendar
    return ExchangeAccountInfo(
        email=email,
        ews_url=ews_url,
        version=str(version.api_version),
        build=str(version.build),
        time_zone=time_zone,
        username=username,
    )


# -- the calendar client -----------------------------------------------------------------


class ExchangeCalendarClient:
    """`CalendarClient` for one Exchange mailbox, over EWS with exchangelib (delegate access:
    the login is the mailbox's own user, no impersonation).

    `version` is the API version or build stored at connect time (None: probe the server);
    `time_zone` the mailbox zone stored at connect time (None: read it on first use).
    """

    def __init__(
        self,
        creds: ExchangeCredentials,
        *,
        ews_url: str,
        version: str | None,
        limiter: anyio.CapacityLimiter,
        timeout: float,
        time_zone: str | None = None,
        retry: RetryPolicy = PATIENT,
    ) -> None:
        self._email = creds.email
        self._username = creds.username or creds.email
        self._password = creds.password
        self._ews_url = ews_url
        self._version = _parse_version(version)
        self._limiter = limiter
        self._timeout = timeout
        self._retry = retry
        self._time_zone = time_zone
        self._account: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ExchangeCalendarClient(email={self._email!r}, ews_url={self._ews_url!r})"

    # CalendarClient ---------------------------------------------------------------------

    async def list_calendars(self) -> list[RemoteCalendarInfo]:
        return await self._call(self._list_calendars)

    async def free_busy(
        self, calendar_ids: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> FreeBusy:
        ids = list(dict.fromkeys(calendar_ids))
        mailboxes = [c for c in ids if _is_mailbox(c)]
        busy: dict[str, list[Interval]] = {c: [] for c in ids}
        errors: dict[str, ProviderError] = {}
        for chunk in chunked(mailboxes, FREE_BUSY_MAX_MAILBOXES):
            for window in windows(start, end, FREE_BUSY_MAX_SPAN):
                answers = await self._call(partial(self._availability, list(chunk), window))
                for calendar_id, answer in answers.items():
                    if isinstance(answer, ProviderError):
                        errors.setdefault(calendar_id, answer)
                    else:
                        busy[calendar_id].extend(answer)
        for calendar_id in (c for c in ids if not _is_mailbox(c)):
            try:
                events, zone = await self._call(
                    partial(self._folder_view, calendar_id, start, end), calendar_id=calendar_id
                )
            except CalendarGone as error:
                errors[calendar_id] = error
                continue
            busy[calendar_id].extend(
                span for event in events if (span := busy_interval(event, zone)) is not None
            )
        return FreeBusy(
            busy={
                c: merge_spans(spans, start, end) for c, spans in busy.items() if c not in errors
            },
            errors=errors,
        )

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        return await self._call(partial(self._create, calendar_id, draft), calendar_id=calendar_id)

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        await self._call(
            partial(self._update, calendar_id, event_id, draft), calendar_id=calendar_id
        )

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        await self._call(partial(self._delete, event_id), calendar_id=calendar_id)

    async def create_calendar(self, name: str) -> RemoteCalendarInfo:
        return await self._call(partial(self._create_calendar, name))

    # EWS push and streaming subscriptions are not used: Exchange stays on polling.
    async def watch(
        self, calendar_id: str, *, channel_id: str, address: str, token: str, ttl: dt.timedelta
    ) -> Watch:
        raise NotOffered("Exchange calendars are polled; push notifications are not used.")

    async def renew_watch(self, watch: Watch, ttl: dt.timedelta) -> Watch:
        raise NotOffered("Exchange calendars are polled; push notifications are not used.")

    async def stop_watch(self, watch: Watch) -> None:
        raise NotOffered("Exchange calendars are polled; push notifications are not used.")

    async def list_changes(
        self,
        calendar_id: str,
        cursor: str | None,
        *,
        window_start: dt.datetime,
        window_end: dt.datetime,
        page: str | None = None,
    ) -> ChangeSet:
        token = page or cursor
        if token is None:
            call = partial(self._full_listing, calendar_id, window_start, window_end)
        else:
            call = partial(self._changes, calendar_id, token, window_start, window_end)
        return await self._call(call, calendar_id=calendar_id)

    # plumbing ---------------------------------------------------------------------------

    async def _call(self, work: Callable[[Any], T], *, calendar_id: str | None = None) -> T:
        """Run `work(account)` in a worker thread, translated to ProviderErrors and retried."""

        def run() -> T:
            return work(self._session())

        async def attempt() -> T:
            return await _run_in_thread(
                run,
                limiter=self._limiter,
                deadline=self._timeout * CLIENT_DEADLINE_FACTOR,
                on_deadline=lambda: TransientError("Exchange did not answer in time."),
                translate=partial(_client_error, calendar_id=calendar_id),
            )

        return await with_retries(attempt, self._retry)

    def _session(self) -> Any:
        """The exchangelib Account, built once on first use (no I/O until a request)."""
        with self._lock:
            if self._account is None:
                self._account = _make_account(
                    self._email,
                    self._username,
                    self._password,
                    self._ews_url,
                    self._version,
                    self._timeout,
                )
            return self._account

    def _zone(self, account: Any) -> str:
        if self._time_zone is None:
            self._time_zone = _mailbox_zone(account)
        zone = self._time_zone
        with contextlib.suppress(UnknownTimeZone):  # no EWS name: keep UTC in the headers
            account.default_timezone = EWSTimeZone(zone)
        return zone

    def _folder(self, account: Any, calendar_id: str) -> Any:
        return _calendar_folder(account, calendar_id)

    # work done in worker threads ---------------------------------------------------------

    def _list_calendars(self, account: Any) -> list[RemoteCalendarInfo]:
        zone = self._zone(account)
        primary = _primary_folder(account)
        calendars = [
            RemoteCalendarInfo(
                remote_id=self._email,
                name=str(primary.name or "Calendar"),
                time_zone=zone,
                access=Access.OWNER,
                is_primary=True,
            )
        ]
        for folder in _sub_calendars(account, primary):
            calendars.append(
                RemoteCalendarInfo(
                    remote_id=str(folder.id),
                    name=str(folder.name or ""),
                    time_zone=zone,
                    access=Access.OWNER,
                    is_primary=False,
                )
            )
        return calendars

    def _availability(
        self, emails: list[str], window: Interval, account: Any
    ) -> dict[str, list[Interval] | ProviderError]:
        utc = EWSTimeZone("UTC")
        views = _Availability(protocol=account.protocol).call(
            tzinfo=utc,
            mailbox_data=[
                MailboxData(email=email, attendee_type="Required", exclude_conflicts=False)
                for email in emails
            ],
            timezone=_utc_serializable_zone(),
            free_busy_view_options=FreeBusyViewOptions(
                time_window=TimeWindow(start=_ews_time(window.start), end=_ews_time(window.end)),
                merged_free_busy_interval=30,
                requested_view="Detailed",
            ),
        )
        answers: dict[str, list[Interval] | ProviderError] = {}
        for email, view in zip(emails, views, strict=True):
            if isinstance(view, Exception):
                answers[email] = _client_error(view, calendar_id=email)
                continue
            spans: list[Interval] = []
            for event in view.calendar_events or ():
                if event.busy_type == "NoData":
                    answers[email] = ProviderError(
                        "Exchange has no free/busy information for this calendar."
                    )
                    break
                if event.busy_type not in ("Free", "WorkingElsewhere"):  # C4
                    spans.append(Interval(_plain_utc(event.start), _plain_utc(event.end)))
            else:
                answers[email] = spans
        return answers

    def _folder_view(
        self, calendar_id: str, start: dt.datetime, end: dt.datetime, account: Any
    ) -> tuple[list[RemoteEvent], str]:
        zone = self._zone(account)
        return _view(account, self._folder(account, calendar_id), start, end, zone), zone

    def _create(self, calendar_id: str, draft: EventDraft, account: Any) -> str:
        folder = self._folder(account, calendar_id)
        if draft.idempotency_key:
            existing = _find_by_key(folder, draft.idempotency_key)
            if existing is not None:
                return existing
        zone = _ews_zone(draft.time_zone)
        item = CalendarItem(
            account=account,
            folder=folder,
            subject=draft.title,
            body=draft.description or None,
            location=draft.location,
            start=_ews_time(draft.start, zone),
            end=_ews_time(draft.end, zone),
            legacy_free_busy_status="Busy",
            required_attendees=_attendees(draft) or None,
        )
        if draft.idempotency_key:
            setattr(item, _KEY_FIELD, draft.idempotency_key)
        invitations = SEND_TO_ALL_AND_SAVE_COPY if _notify(draft) else SEND_TO_NONE
        item.save(send_meeting_invitations=invitations)
        return str(item.id)

    def _update(self, calendar_id: str, event_id: str, draft: EventDraft, account: Any) -> None:
        folder = self._folder(account, calendar_id)
        found = list(account.fetch(ids=[(event_id, None)], folder=folder, only_fields=["start"]))
        item = found[0] if found else None
        if item is None or isinstance(item, (ErrorItemNotFound, ErrorInvalidIdMalformed)):
            raise ProviderError("The event no longer exists on the Exchange calendar.")
        if isinstance(item, Exception):
            raise item
        zone = _ews_zone(draft.time_zone)
        item.subject = draft.title
        item.body = draft.description or None
        item.location = draft.location
        item.start = _ews_time(draft.start, zone)
        item.end = _ews_time(draft.end, zone)
        item._start_timezone = zone
        item._end_timezone = zone
        item.is_all_day = False
        item.required_attendees = _attendees(draft) or None
        item.save(
            update_fields=[
                "subject",
                "body",
                "location",
                "start",
                "end",
                "is_all_day",
                "required_attendees",
            ],
            send_meeting_invitations=(
                SEND_TO_ALL_AND_SAVE_COPY if draft.send_invitations else SEND_TO_NONE
            ),
        )

    def _delete(self, event_id: str, account: Any) -> None:
        results = account.bulk_delete(
            ids=[(event_id, None)],
            delete_type=MOVE_TO_DELETED_ITEMS,
            send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY,
            affected_task_occurrences=ALL_OCCURRENCES,
        )
        for result in results:
            if isinstance(result, (ErrorItemNotFound, ErrorInvalidIdMalformed)):
                continue  # already gone: deleting is idempotent
            if isinstance(result, Exception):
                raise result

    def _create_calendar(self, name: str, account: Any) -> RemoteCalendarInfo:
        zone = self._zone(account)
        parent = self._folder(account, self._email)
        new = Calendar(root=parent.root, name=name)
        (created,) = CreateFolder(account=account).call(parent_folder=parent, folders=[new])
        if isinstance(created, ErrorFolderExists):  # a retried create: use the first one
            created = next((f for f in _sub_calendars(account, parent) if f.name == name), None)
            if created is None:
                raise ProviderError("A folder with that name exists but is not a calendar.")
        elif isinstance(created, Exception):
            raise created
        return RemoteCalendarInfo(
            remote_id=str(created.id),
            name=name,
            time_zone=zone,
            access=Access.OWNER,
            is_primary=False,
        )

    def _full_listing(
        self, calendar_id: str, start: dt.datetime, end: dt.datetime, account: Any
    ) -> ChangeSet:
        zone = self._zone(account)
        folder = self._folder(account, calendar_id)
        # The sync state first: a change made while the view is read comes again next time.
        state: str | None = None
        masters: set[str] = set()
        service = SyncFolderItems(account=account)
        while True:
            for change in service.call(
                folder=folder,
                shape=ID_ONLY,
                additional_fields={_field_path("type")},
                sync_state=state,
                ignore=None,
                max_changes_returned=SYNC_PAGE_SIZE,
                sync_scope=None,
            ):
                kind, item = _change(change)
                if kind == SyncFolderItems.DELETE:
                    masters.discard(_fingerprint(str(item.id)))
                elif kind != SyncFolderItems.READ_FLAG_CHANGE and item.type == "RecurringMaster":
                    masters.add(_fingerprint(str(item.id)))
            previous, state = state, str(service.sync_state)
            if service.includes_last_item_in_range or state == previous:
                break
        events = _view(account, folder, start, end, zone)
        return ChangeSet(changed=tuple(events), removed=(), next_cursor=_cursor(state, masters))

    def _changes(
        self, calendar_id: str, token: str, start: dt.datetime, end: dt.datetime, account: Any
    ) -> ChangeSet:
        zone = self._zone(account)
        state, masters = _read_cursor(token)
        folder = self._folder(account, calendar_id)
        service = SyncFolderItems(account=account)
        changed: list[RemoteEvent] = []
        removed: list[str] = []
        for change in service.call(
            folder=folder,
            shape=ID_ONLY,
            additional_fields=_event_field_paths(),
            sync_state=state,
            ignore=None,
            max_changes_returned=SYNC_PAGE_SIZE,
            sync_scope=None,
        ):
            kind, item = _change(change)
            if kind == SyncFolderItems.READ_FLAG_CHANGE:
                continue
            if kind == SyncFolderItems.DELETE:
                if _fingerprint(str(item.id)) in masters:
                    raise CursorExpired("A recurring series was deleted; run a full sync.")
                removed.append(str(item.id))
                continue
            if item.type == "RecurringMaster":
                raise CursorExpired("A recurring series changed on Exchange; run a full sync.")
            event = _to_event(item, zone)
            if _overlaps(event, zone, start, end):
                changed.append(event)
            else:  # moved out of (or created outside) the window: nothing to keep for it
                removed.append(event.remote_id)
        next_token = _cursor(str(service.sync_state), masters)
        if service.includes_last_item_in_range:
            return ChangeSet(changed=tuple(changed), removed=tuple(removed), next_cursor=next_token)
        return ChangeSet(
            changed=tuple(changed), removed=tuple(removed), next_cursor=None, next_page=next_token
        )


# -- exchangelib helpers (worker threads) --------------------------------------------------


def _make_account(
    email: str, username: str, password: str, ews_url: str, version: Any, timeout: float
) -> Any:
    """An exchangelib Account with delegate access, fail-fast errors (retries are ours) and
    per-request timeouts. exchangelib caches the protocol per (URL, credentials)."""
    config = Configuration(
        service_endpoint=ews_url,
        credentials=Credentials(username, password),
        version=version,
        retry_policy=FailFast(),
        max_connections=MAX_CONNECTIONS,
    )
    account = Account(
        primary_smtp_address=email,
        config=config,
        access_type=DELEGATE,
        autodiscover=False,
        default_timezone=EWSTimeZone("UTC"),
        locale="en_US",
    )
    protocol = account.protocol
    protocol.TIMEOUT = timeout  # each HTTP request
    # With fail-fast errors, exchangelib turns its own retry wait into a fake back-off hint on
    # connection errors; zero keeps "no hint" distinguishable from Exchange's real hints.
    protocol.RETRY_WAIT = 0
    return account


def _calendar_folder(account: Any, calendar_id: str) -> Any:
    """A folder handle without a round trip: the mailbox's calendar for an address, else a
    folder id. The root is a local stub so exchangelib never walks the whole hierarchy."""
    root = Root(account=account)
    if _is_mailbox(calendar_id):
        return Calendar(
            root=root,
            _distinguished_id=DistinguishedFolderId(
                id=_PRIMARY_FOLDER, mailbox=Mailbox(email_address=calendar_id)
            ),
        )
    return Calendar(root=root, id=calendar_id)


def _primary_folder(account: Any) -> Any:
    stub = _calendar_folder(account, account.primary_smtp_address)
    (folder,) = FolderCollection(account=account, folders=[stub]).resolve()
    if isinstance(folder, Exception):
        raise folder
    return folder


def _sub_calendars(account: Any, parent: Any) -> list[Any]:
    found = FolderCollection(account=account, folders=[parent]).find_folders(depth="Deep")
    calendars = []
    for folder in found:
        if isinstance(folder, Exception):
            raise folder
        if str(folder.folder_class or "").startswith(_CALENDAR_CLASS):
            calendars.append(folder)
    return calendars


def _mailbox_zone(account: Any) -> str:
    """The mailbox's IANA zone: OWA's regional settings, else the calendar's working hours,
    else UTC (logged: all-day events would then be placed in UTC)."""
    mailbox = Mailbox(email_address=account.primary_smtp_address)
    windows_zone = _configuration_value(
        account, "OWA.UserOptions", DistinguishedFolderId(id="root", mailbox=mailbox), "Dictionary"
    )
    if windows_zone is None:
        windows_zone = _configuration_value(
            account,
            "WorkHours",
            DistinguishedFolderId(id=_PRIMARY_FOLDER, mailbox=mailbox),
            "XmlData",
        )
    zone = _iana_zone(windows_zone) if windows_zone else None
    if zone is None:
        log.warning("exchange_mailbox_zone_unknown", email=account.primary_smtp_address)
        return "UTC"
    return zone


def _configuration_value(account: Any, name: str, folder: Any, properties: str) -> str | None:
    try:
        configuration = GetUserConfiguration(account=account).get(
            user_configuration_name=UserConfigurationNameMNS(name=name, folder=folder),
            properties=properties,
        )
    except (ErrorItemNotFound, ErrorFolderNotFound, ErrorAccessDenied):
        return None
    if properties == "Dictionary":
        value = (configuration.dictionary or {}).get("timezone")
        return str(value) if value else None
    return _work_hours_zone(configuration.xml_data)


def _work_hours_zone(xml_data: bytes | None) -> str | None:
    if not xml_data:
        return None
    try:
        document = parse_xml(xml_data)
    except Exception:  # a malformed setting only means "unknown"
        return None
    for element in document.iter():
        if str(element.tag).endswith("}Name") or element.tag == "Name":
            return str(element.text) if element.text else None
    return None


def _iana_zone(windows_zone: str) -> str | None:
    candidate = MS_TIMEZONE_TO_IANA_MAP.get(windows_zone) or windows_zone
    try:
        ZoneInfo(str(candidate))
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return str(candidate)


def _view(
    account: Any, folder: Any, start: dt.datetime, end: dt.datetime, zone: str
) -> list[RemoteEvent]:
    """Events overlapping [start, end): a calendar view, so recurrences come expanded. FindItem
    is called directly so the extended all-day property comes in the same request (exchangelib's
    query sets fetch extended properties with a second, GetItem request)."""
    found = FindItem(account=account).call(
        folders=[folder],
        additional_fields=_event_field_paths(),
        restriction=None,
        order_fields=None,
        shape=ID_ONLY,
        query_string=None,
        depth="Shallow",
        calendar_view=CalendarView(start=_ews_time(start), end=_ews_time(end)),
        max_items=None,
        offset=0,
    )
    events = []
    for item in found:
        if isinstance(item, Exception):
            raise item
        events.append(_to_event(item, zone))
    return events


def _find_by_key(folder: Any, key: str) -> str | None:
    for found in folder.filter(**{_KEY_FIELD: key}).only("id"):
        if isinstance(found, Exception):
            raise found
        return str(found.id)
    return None


def _change(change: Any) -> tuple[str, Any]:
    if isinstance(change, Exception):
        raise change
    kind, item = change
    return str(kind), item


_SHOW_AS = {
    "Busy": ShowAs.BUSY,
    "Tentative": ShowAs.TENTATIVE,
    "OOF": ShowAs.OUT_OF_OFFICE,
    "WorkingElsewhere": ShowAs.WORKING_ELSEWHERE,
    "Free": ShowAs.FREE,
}
_RESPONSE = {
    "Organizer": Response.ORGANIZER,
    "Accept": Response.ACCEPTED,
    "Tentative": Response.TENTATIVE,
    "Decline": Response.DECLINED,
    "NoResponseReceived": Response.NEEDS_ACTION,
}


def _to_event(item: Any, mailbox_zone: str) -> RemoteEvent:
    private = item.sensitivity in ("Private", "Confidential")
    first, last = _plain_utc(item.start), _plain_utc(item.end)
    all_day = bool(getattr(item, _ALL_DAY_FIELD))
    if all_day:
        # Exchange stores an all-day item as the midnights of its own zone: take the dates
        # there (the mailbox zone when the item names none); busy_interval then places those
        # dates in the calendar's zone (C4).
        first = _midnight_utc(_local_date(first, item._start_timezone, mailbox_zone, ceil=False))
        last = _midnight_utc(_local_date(last, item._end_timezone, mailbox_zone, ceil=True))
    return RemoteEvent(
        remote_id=str(item.id),
        start=first,
        end=last,
        all_day=all_day,
        status=EventStatus.CANCELLED if item.is_cancelled else EventStatus.CONFIRMED,
        # NoData or a status this code does not know: busy, the safe side of C4.
        show_as=_SHOW_AS.get(str(item.legacy_free_busy_status), ShowAs.BUSY),
        response=_RESPONSE.get(str(item.my_response_type), Response.NEEDS_ACTION),
        is_private=private,
        title=None if private else (str(item.subject) if item.subject is not None else None),
    )


def _local_date(instant: dt.datetime, zone: Any, fallback: str, *, ceil: bool) -> dt.date:
    """The date of `instant` in `zone`; with `ceil`, a time after midnight counts as the next
    date (an exclusive end that is not a midnight there still covers its whole day)."""
    local = instant.astimezone(ZoneInfo(str(zone.key) if zone is not None else fallback))
    if ceil and local.time() != dt.time():
        return local.date() + dt.timedelta(days=1)
    return local.date()


def _midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _overlaps(event: RemoteEvent, zone: str, start: dt.datetime, end: dt.datetime) -> bool:
    span = (
        all_day_span(event.start.date(), event.end.date(), zone)
        if event.all_day
        else Interval(event.start, event.end)
    )
    return span.start < end and span.end > start


def _field_path(name: str) -> Any:
    return FieldPath(field=CalendarItem.get_field_by_fieldname(name))


def _event_field_paths() -> set[Any]:
    return {_field_path(name) for name in (*_EVENT_FIELDS, _ALL_DAY_FIELD)}


def _utc_serializable_zone() -> Any:
    """UTC as an EWS SerializableTimeZone (no daylight saving), for availability requests."""
    transition = {"bias": 0, "time": dt.time(0), "occurrence": 1, "iso_month": 1, "weekday": 1}
    return TimeZone(
        bias=0, standard_time=StandardTime(**transition), daylight_time=DaylightTime(**transition)
    )


def _attendees(draft: EventDraft) -> list[Any]:
    return [
        EwsAttendee(mailbox=Mailbox(email_address=a.email, name=a.name), response_type="Unknown")
        for a in draft.attendees
    ]


def _notify(draft: EventDraft) -> bool:
    return draft.send_invitations and bool(draft.attendees)


# -- values ------------------------------------------------------------------------------


def _is_mailbox(calendar_id: str) -> bool:
    """Mailbox addresses contain "@"; EWS folder ids (base64) never do."""
    return "@" in calendar_id


def _ews_zone(name: str) -> Any:
    try:
        return EWSTimeZone(name)
    except UnknownTimeZone:
        return EWSTimeZone("UTC")


def _ews_time(value: dt.datetime, zone: Any = None) -> Any:
    """An EWSDateTime in `zone` (an EWSTimeZone; UTC when None)."""
    local = value.astimezone(zone or ZoneInfo("UTC"))
    return local if isinstance(local, EWSDateTime) else EWSDateTime.from_datetime(local)


def _plain_utc(value: dt.datetime) -> dt.datetime:
    """A stdlib aware UTC datetime from exchangelib's EWSDateTime."""
    plain = dt.datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=value.tzinfo,
    )
    return plain.astimezone(dt.UTC)


def _parse_version(value: str | None) -> Any:
    """An exchangelib Version from a stored API version name or build number."""
    if value is None:
        return None
    if re.fullmatch(r"\d+(\.\d+){1,3}", value):
        return Version(build=Build(*(int(part) for part in value.split("."))))
    for build, api_version, _ in reversed(VERSIONS):  # the oldest build with that API
        if api_version == value:
            return Version(build=build, api_version=api_version)
    raise ValueError(f"unknown Exchange version {value!r}")


def _fingerprint(item_id: str) -> str:
    return hashlib.sha256(item_id.encode()).hexdigest()[:16]


def _cursor(state: str, masters: set[str]) -> str:
    payload = json.dumps({"v": 1, "s": state, "m": sorted(masters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def _read_cursor(token: str) -> tuple[str, set[str]]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        state, masters = payload["s"], payload["m"]
        if payload["v"] != 1 or not isinstance(state, str) or not isinstance(masters, list):
            raise ValueError("unexpected cursor")
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise CursorExpired("The Exchange sync cursor is not valid; run a full sync.") from error
    return state, {str(m) for m in masters}


# -- errors ------------------------------------------------------------------------------


async def _run_in_thread(
    work: Callable[[], T],
    *,
    limiter: anyio.CapacityLimiter,
    deadline: float,
    on_deadline: Callable[[], ProviderError],
    translate: Callable[[Exception], ProviderError],
) -> T:
    """`work()` in a worker thread under `limiter`; any failure becomes a ProviderError and a
    call outliving `deadline` is abandoned (its thread finishes on its own)."""

    def run() -> T:
        try:
            return work()
        except ProviderError:
            raise
        except Exception as error:  # exchangelib, requests and lxml raise many unrelated types
            raise translate(error) from error

    try:
        with anyio.fail_after(deadline):
            return await anyio.to_thread.run_sync(run, limiter=limiter, abandon_on_cancel=True)
    except TimeoutError:
        raise on_deadline() from None


_GONE = (
    ErrorFolderNotFound,
    ErrorItemNotFound,
    ErrorAccessDenied,
    ErrorNonExistentMailbox,
    ErrorMailRecipientNotFound,
    ErrorNoFreeBusyAccess,
    ErrorInvalidIdMalformed,
)
_TRANSIENT = (
    ErrorTimeoutExpired,
    ErrorInternalServerTransientError,
    ErrorInternalServerError,
    ErrorMailboxStoreUnavailable,
    ErrorMailboxMoveInProgress,
    ErrorTooManyObjectsOpened,
    ErrorExceededConnectionCount,
    MalformedResponseError,
    CASError,
)


def _busy_error(error: Any) -> TransientError:
    """ErrorServerBusy: Exchange's own back-off hint, or exchangelib's relabelled connection
    and 5xx failures ("Reraised from ...", "Caused by ..."), which carry no hint."""
    text = str(error)
    if text.startswith(("Reraised from", "Caused by")):
        return TransientError("Exchange did not answer; try again later.")
    back_off = error.back_off or None
    return RateLimited("Exchange is busy and asked to slow down.", retry_after=back_off)


def _client_error(error: Exception, *, calendar_id: str | None) -> ProviderError:
    """A calendar call's failure as a ProviderError with a message safe to show."""
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, UnauthorizedError):
        return AccessRevoked(
            "Exchange no longer accepts the stored password; reconnect the calendar. "
            "Accounts with two-factor authentication need an app password."
        )
    if isinstance(error, ErrorServerBusy):
        return _busy_error(error)
    if isinstance(error, ErrorInvalidSyncStateData):
        return CursorExpired("Exchange no longer accepts the sync state; run a full sync.")
    if isinstance(error, _GONE):
        if calendar_id is not None:
            return CalendarGone("The calendar is gone or no longer shared.", calendar_id)
        return ProviderError("Exchange could not find the mailbox or folder.")
    if isinstance(error, (ErrorInvalidServerVersion, ErrorInvalidSchemaVersionForMailboxVersion)):
        return ServerUnsupported(f"Slotgraph needs {MIN_BUILD_TEXT} or newer.")
    if isinstance(error, (*_TRANSIENT, TransportError, requests.RequestException, OSError)):
        return TransientError("Exchange could not be reached; try again later.")
    if isinstance(error, EWSError):
        return ProviderError(f"Exchange refused the request ({type(error).__name__}).")
    return ProviderError(f"The Exchange call failed ({type(error).__name__}).")


def _connect_error(error: Exception) -> ProviderError:
    """A failure while validating a login, as the distinct errors S2 asks for."""
    if isinstance(error, UnauthorizedError):
        return AuthenticationFailed(AUTH_FAILED_MESSAGE)
    if isinstance(error, (ErrorInvalidServerVersion, ErrorInvalidSchemaVersionForMailboxVersion)):
        return ServerUnsupported(f"Slotgraph needs {MIN_BUILD_TEXT} or newer.")
    if isinstance(error, TransportError) and isinstance(
        error.__context__, (ErrorInvalidServerVersion, ErrorInvalidSchemaVersionForMailboxVersion)
    ):  # every API version refused: older than anything exchangelib speaks
        return ServerUnsupported(f"Slotgraph needs {MIN_BUILD_TEXT} or newer.")
    if isinstance(error, ErrorServerBusy):
        return _busy_error(error)
    if isinstance(error, _GONE):
        return AuthenticationFailed(
            "The server accepted the login, but it cannot open a calendar for this email address."
        )
    if isinstance(error, ResponseMessageError) and not isinstance(error, ErrorTimeoutExpired):
        return _client_error(error, calendar_id=None)  # the endpoint works: an EWS-level refusal
    if isinstance(error, RedirectError):
        return ServerUnreachable("The EWS URL redirects elsewhere; enter the final EWS URL.")
    if isinstance(error, (TransportError, requests.RequestException, OSError)):
        cause = error.__cause__ or error.__context__
        if str(error).startswith("Failed to get auth type") or (
            cause is None and not isinstance(error, ErrorTimeoutExpired)
        ):
            return ServerUnreachable(
                "No Exchange Web Services endpoint answered at that URL; check the EWS URL."
            )
        return ServerUnreachable(
            "Could not reach the Exchange server (name not found, connection refused or "
            "timed out); check the EWS URL."
        )
    return _client_error(error, calendar_id=None)


def _discovery_error(error: Exception) -> ProviderError:
    """A failure while autodiscovering the EWS URL."""
    if isinstance(error, UnauthorizedError):
        return AuthenticationFailed(AUTH_FAILED_MESSAGE)
    if isinstance(error, ErrorNonExistentMailbox):
        return DiscoveryFailed(
            "Autodiscover knows no mailbox for this email address; check it or enter the EWS URL."
        )
    if isinstance(error, (AutoDiscoverError, TransportError, requests.RequestException, OSError)):
        return DiscoveryFailed(
            "Autodiscover could not find the Exchange server for this email address; "
            "enter the EWS URL."
        )
    return DiscoveryFailed(f"Autodiscover failed ({type(error).__name__}); enter the EWS URL.")
