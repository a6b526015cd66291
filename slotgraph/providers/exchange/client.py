"""The `CalendarClient` for one Exchange mailbox, over EWS with exchangelib (delegate
access: the login is the mailbox's own user, no impersonation), with create, update and
delete so that cancel and reschedule work on Exchange too (C11 lifts the S11 limits).

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

Idempotent creates. `EventDraft.idempotency_key` is stored in a custom extended property and
looked up (FindItem with a restriction) before creating, so a retried create lands once.
(Two concurrent creates with one key can both miss the lookup: the key covers retries.)

Every call runs in a worker thread (`errors.run_in_thread`) with an overall deadline and is
retried with `with_retries`, honouring Exchange's `BackOffMilliseconds`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable
from collections.abc import Sequence
from functools import partial
from typing import Any
from typing import Final
from typing import TypeVar

import anyio
from exchangelib import EWSTimeZone
from exchangelib.errors import ErrorFolderExists
from exchangelib.errors import UnknownTimeZone
from exchangelib.folders import Calendar
from exchangelib.properties import FreeBusyViewOptions
from exchangelib.properties import MailboxData
from exchangelib.properties import TimeWindow
from exchangelib.services import CreateFolder

from slotgraph.providers.base import Access
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import FreeBusy
from slotgraph.providers.base import Interval
from slotgraph.providers.base import NotOffered
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import RemoteCalendarInfo
from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.base import TransientError
from slotgraph.providers.base import Watch
from slotgraph.providers.base import chunked
from slotgraph.providers.base import owned_calendar
from slotgraph.providers.base import windows
from slotgraph.providers.busy import FreeBusyAnswer
from slotgraph.providers.busy import split_mailboxes
from slotgraph.providers.exchange.connect import ExchangeCredentials
from slotgraph.providers.exchange.errors import client_error
from slotgraph.providers.exchange.errors import run_in_thread
from slotgraph.providers.exchange.ews import Availability
from slotgraph.providers.exchange.ews import calendar_folder
from slotgraph.providers.exchange.ews import mailbox_zone
from slotgraph.providers.exchange.ews import make_account
from slotgraph.providers.exchange.ews import primary_folder
from slotgraph.providers.exchange.ews import sub_calendars
from slotgraph.providers.exchange.ews import utc_serializable_zone
from slotgraph.providers.exchange.ews import view_events
from slotgraph.providers.exchange.sync import changes
from slotgraph.providers.exchange.sync import full_listing
from slotgraph.providers.exchange.wire import ews_time
from slotgraph.providers.exchange.wire import is_mailbox
from slotgraph.providers.exchange.wire import parse_version
from slotgraph.providers.exchange.wire import plain_utc
from slotgraph.providers.exchange.writes import create_item
from slotgraph.providers.exchange.writes import delete_item
from slotgraph.providers.exchange.writes import update_item
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy
from slotgraph.providers.retry import with_retries
from slotgraph.providers.unreadable import Skipped

FREE_BUSY_MAX_MAILBOXES: Final = 100
FREE_BUSY_MAX_SPAN: Final = dt.timedelta(days=42)
# Each EWS operation may take several HTTP requests (auth-type and version probing, paging);
# each request is bounded by `timeout`, the whole call by `timeout` times these factors.
CLIENT_DEADLINE_FACTOR: Final = 10

T = TypeVar("T")


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
        self._version = parse_version(version)
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
        ids, mailboxes, folders = split_mailboxes(calendar_ids, is_mailbox)
        answer = FreeBusyAnswer(ids)
        for chunk in chunked(mailboxes, FREE_BUSY_MAX_MAILBOXES):
            for window in windows(start, end, FREE_BUSY_MAX_SPAN):
                answer.add(await self._call(partial(self._availability, list(chunk), window)))
        for calendar_id in folders:
            try:
                events, zone = await self._call(
                    partial(self._folder_view, calendar_id, start, end), calendar_id=calendar_id
                )
            except CalendarGone as error:
                answer.fail(calendar_id, error)
                continue
            answer.add_events(calendar_id, events, zone)
        return answer.result(start, end)

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
        self, calendar_id: str, cursor: str | None, window: Interval, page: str | None = None
    ) -> ChangeSet:
        token = page or cursor
        if token is None:
            call = partial(self._full_listing, calendar_id, window.start, window.end)
        else:
            call = partial(self._changes, calendar_id, token, window.start, window.end)
        return await self._call(call, calendar_id=calendar_id)

    # plumbing ---------------------------------------------------------------------------

    async def _call(self, work: Callable[[Any], T], *, calendar_id: str | None = None) -> T:
        """Run `work(account)` in a worker thread, translated to ProviderErrors and retried."""

        def run() -> T:
            return work(self._session())

        async def attempt() -> T:
            return await run_in_thread(
                run,
                limiter=self._limiter,
                deadline=self._timeout * CLIENT_DEADLINE_FACTOR,
                on_deadline=lambda: TransientError("Exchange did not answer in time."),
                translate=partial(client_error, calendar_id=calendar_id),
            )

        return await with_retries(attempt, self._retry)

    def _session(self) -> Any:
        """The exchangelib Account, built once on first use (no I/O until a request)."""
        with self._lock:
            if self._account is None:
                self._account = make_account(
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
            self._time_zone = mailbox_zone(account)
        zone = self._time_zone
        with contextlib.suppress(UnknownTimeZone):  # no EWS name: keep UTC in the headers
            account.default_timezone = EWSTimeZone(zone)
        return zone

    def _folder(self, account: Any, calendar_id: str) -> Any:
        return calendar_folder(account, calendar_id)

    # work done in worker threads ---------------------------------------------------------

    def _list_calendars(self, account: Any) -> list[RemoteCalendarInfo]:
        zone = self._zone(account)
        primary = primary_folder(account)
        calendars = [
            RemoteCalendarInfo(
                remote_id=self._email,
                name=str(primary.name or "Calendar"),
                time_zone=zone,
                access=Access.OWNER,
                is_primary=True,
            )
        ]
        for folder in sub_calendars(account, primary):
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
        views = Availability(protocol=account.protocol).call(
            tzinfo=utc,
            mailbox_data=[
                MailboxData(email=email, attendee_type="Required", exclude_conflicts=False)
                for email in emails
            ],
            timezone=utc_serializable_zone(),
            free_busy_view_options=FreeBusyViewOptions(
                time_window=TimeWindow(start=ews_time(window.start), end=ews_time(window.end)),
                merged_free_busy_interval=30,
                requested_view="Detailed",
            ),
        )
        answers: dict[str, list[Interval] | ProviderError] = {}
        for email, view in zip(emails, views, strict=True):
            if isinstance(view, Exception):
                answers[email] = client_error(view, calendar_id=email)
                continue
            spans: list[Interval] = []
            for event in view.calendar_events or ():
                if event.busy_type == "NoData":
                    answers[email] = ProviderError(
                        "Exchange has no free/busy information for this calendar."
                    )
                    break
                if event.busy_type not in ("Free", "WorkingElsewhere"):  # C4
                    spans.append(Interval(plain_utc(event.start), plain_utc(event.end)))
            else:
                answers[email] = spans
        return answers

    def _folder_view(
        self, calendar_id: str, start: dt.datetime, end: dt.datetime, account: Any
    ) -> tuple[list[RemoteEvent], str]:
        zone = self._zone(account)
        folder = self._folder(account, calendar_id)
        skipped = Skipped("exchange", calendar_id)  # logged; the rest is still busy time
        return view_events(account, folder, start, end, zone, skipped), zone

    def _create(self, calendar_id: str, draft: EventDraft, account: Any) -> str:
        return create_item(account, self._folder(account, calendar_id), draft)

    def _update(self, calendar_id: str, event_id: str, draft: EventDraft, account: Any) -> None:
        update_item(account, self._folder(account, calendar_id), event_id, draft)

    def _delete(self, event_id: str, account: Any) -> None:
        delete_item(account, event_id)

    def _create_calendar(self, name: str, account: Any) -> RemoteCalendarInfo:
        zone = self._zone(account)
        parent = self._folder(account, self._email)
        new = Calendar(root=parent.root, name=name)
        (created,) = CreateFolder(account=account).call(parent_folder=parent, folders=[new])
        if isinstance(created, ErrorFolderExists):  # a retried create: use the first one
            created = next((f for f in sub_calendars(account, parent) if f.name == name), None)
            if created is None:
                raise ProviderError("A folder with that name exists but is not a calendar.")
        elif isinstance(created, Exception):
            raise created
        return owned_calendar(str(created.id), name, zone)

    def _full_listing(
        self, calendar_id: str, start: dt.datetime, end: dt.datetime, account: Any
    ) -> ChangeSet:
        zone = self._zone(account)
        return full_listing(account, self._folder(account, calendar_id), zone, start, end)

    def _changes(
        self, calendar_id: str, token: str, start: dt.datetime, end: dt.datetime, account: Any
    ) -> ChangeSet:
        zone = self._zone(account)
        return changes(account, self._folder(account, calendar_id), zone, token, start, end)
