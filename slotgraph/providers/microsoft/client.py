"""The `CalendarClient` for one Microsoft 365 mailbox over Microsoft Graph v1.0 with httpx.

Free/busy. Mailbox addresses go through `getSchedule` (the mailbox's default calendar, computed
by Exchange: cancelled and declined meetings already left out), in requests of at most 20
schedules and 62 days, run concurrently; each `scheduleItem` status is mapped by C4 (`unknown`
counts as busy), and a per-schedule `error` is `CalendarGone` for unknown or hidden mailboxes,
else an error for that calendar, never free time. Other calendars are invisible to getSchedule,
so their busy time comes from a paged `calendarView` through `slotgraph.providers.busy`.

Sync (`list_changes`). calendarView delta: the first call lists the window; `@odata.nextLink`
pages come back as `next_page`, the final `@odata.deltaLink` is the cursor; `@removed` items
are removed ids. Graph reports occurrences and exceptions of series one by one, so no series
special case is needed. The window is fixed by the round's first call: a caller whose window
moved starts a full listing. Cursors and pages are Graph URLs and are followed only when they
point at the configured Graph base URL, so a bearer token is never sent elsewhere.

Writes. Creates carry Graph's `transactionId` (Graph drops a retried POST of the same
transaction) and the key in a single-value extended property, looked up before creating, so a
create retried later (an outbox retry) lands once too; a found event is adopted only when it
carries the key (`wire.carries_key`). Deleting a gone event is not an error.

Requests go through `graph.Graph` (bearer auth with one refresh and resend on 401, the
mailbox's concurrency gate, retries, failures mapped once by `errors.mapped`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Final

import httpx
import structlog

from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import FreeBusy
from slotgraph.providers.base import Interval
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import RemoteCalendarInfo
from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.base import ShowAs
from slotgraph.providers.base import TokenSource
from slotgraph.providers.base import Watch
from slotgraph.providers.base import chunked
from slotgraph.providers.base import owned_calendar
from slotgraph.providers.base import windows
from slotgraph.providers.busy import FreeBusyAnswer
from slotgraph.providers.busy import split_mailboxes
from slotgraph.providers.microsoft import push
from slotgraph.providers.microsoft.errors import schedule_error
from slotgraph.providers.microsoft.graph import PAGE_SIZE
from slotgraph.providers.microsoft.graph import Graph
from slotgraph.providers.microsoft.wire import SHOW_AS
from slotgraph.providers.microsoft.wire import calendar_info
from slotgraph.providers.microsoft.wire import carries_key
from slotgraph.providers.microsoft.wire import event_body
from slotgraph.providers.microsoft.wire import graph_utc
from slotgraph.providers.microsoft.wire import instant
from slotgraph.providers.microsoft.wire import is_mailbox
from slotgraph.providers.microsoft.wire import iso_z
from slotgraph.providers.microsoft.wire import segment
from slotgraph.providers.microsoft.wire import to_event
from slotgraph.providers.microsoft.wire import zone_name
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy
from slotgraph.providers.unreadable import ChangePage
from slotgraph.providers.unreadable import Skipped

log = structlog.get_logger("slotgraph.microsoft")

SCHEDULE_MAX_MAILBOXES: Final = 20
SCHEDULE_MAX_SPAN: Final = dt.timedelta(days=62)
# Slotgraph's idempotency key, in the same MAPI property set the Exchange adapter uses, so an
# event written over EWS is recognised over Graph too.
KEY_PROPERTY: Final = "String {5107a9a0-7c1e-4d4b-9a57-8f2d3c6e1b11} Name SlotgraphIdempotencyKey"


class MicrosoftCalendarClient:
    """`CalendarClient` for one Microsoft 365 mailbox over Graph v1.0."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        account_email: str,
        base_url: str,
        timeout: float,
        retry: RetryPolicy = PATIENT,
        time_zone: str | None = None,
    ) -> None:
        self._graph = Graph(
            http, tokens, mailbox=account_email, base_url=base_url, timeout=timeout, retry=retry
        )
        self._email = account_email
        self._base = self._graph.base
        self._time_zone = time_zone

    def __repr__(self) -> str:
        return f"MicrosoftCalendarClient(account_email={self._email!r})"

    # CalendarClient ---------------------------------------------------------------------

    async def list_calendars(self) -> list[RemoteCalendarInfo]:
        """The calendar list, the default calendar first. `isDefaultCalendar` is optional in
        Graph's answers: when no item says it is the default, `GET /me/calendar` (the
        documented way to the mailbox's default calendar) names it, and it is added when
        the list left it out, so a connected account always has a calendar for meetings."""
        zone = await self._zone()
        url = f"{self._base}/me/calendars"
        items = [item async for item in self._graph.items(url, {"$top": str(PAGE_SIZE)})]
        default_id: str | None = None
        if not any(item.get("isDefaultCalendar") for item in items):
            response = await self._graph.request("GET", f"{self._base}/me/calendar")
            assert response is not None
            default = response.json()
            default_id = str(default["id"])
            if all(str(item.get("id")) != default_id for item in items):
                items.insert(0, default)
        calendars = [
            calendar_info(
                item,
                self._email,
                zone,
                default=None if default_id is None else str(item.get("id")) == default_id,
            )
            for item in items
        ]
        return sorted(calendars, key=lambda c: not c.is_primary)

    async def free_busy(
        self, calendar_ids: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> FreeBusy:
        ids, mailboxes, others = split_mailboxes(calendar_ids, is_mailbox)
        answer = FreeBusyAnswer(ids)
        requests_ = [
            self._schedule(list(chunk), window)
            for chunk in chunked(mailboxes, SCHEDULE_MAX_MAILBOXES)
            for window in windows(start, end, SCHEDULE_MAX_SPAN)
        ]
        for answers in await asyncio.gather(*requests_):
            answer.add(answers)
        if others:
            zone = await self._zone()
            views = await asyncio.gather(
                *(self._view(c, start, end, zone) for c in others), return_exceptions=True
            )
            for calendar_id, view in zip(others, views, strict=True):
                if isinstance(view, CalendarGone):
                    answer.fail(calendar_id, view)
                elif isinstance(view, BaseException):
                    raise view
                else:
                    answer.add_events(calendar_id, view, zone)
        return answer.result(start, end)

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        base = self._calendar_path(calendar_id)
        key = draft.idempotency_key
        if key:
            existing = await self._find_by_key(calendar_id, key)
            if existing is not None:
                return existing
        body = event_body(draft)
        if key:
            body["transactionId"] = key[:255]
            body["singleValueExtendedProperties"] = [{"id": KEY_PROPERTY, "value": key}]
        response = await self._graph.request(
            "POST", f"{base}/events", body=body, calendar_id=calendar_id
        )
        assert response is not None
        return str(response.json()["id"])

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        await self._graph.request(
            "PATCH",
            f"{self._calendar_path(calendar_id)}/events/{segment(event_id)}",
            body=event_body(draft),
            calendar_id=calendar_id,
            missing="event",
        )

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        await self._graph.request(
            "DELETE",
            f"{self._calendar_path(calendar_id)}/events/{segment(event_id)}",
            calendar_id=calendar_id,
            tolerate=(404,),  # already gone: deleting is idempotent
        )

    async def create_calendar(self, name: str) -> RemoteCalendarInfo:
        zone = await self._zone()
        response = await self._graph.request(
            "POST", f"{self._base}/me/calendars", body={"name": name}, accept=(409,)
        )
        assert response is not None
        if response.status_code == 409:  # ErrorFolderExists: a retried create, use the first
            for calendar in await self.list_calendars():
                if calendar.name == name and not calendar.is_primary:
                    return calendar
            raise ProviderError("A calendar with that name exists but cannot be opened.")
        created = response.json()
        return owned_calendar(str(created["id"]), str(created.get("name") or name), zone)

    async def list_changes(
        self, calendar_id: str, cursor: str | None, window: Interval, page: str | None = None
    ) -> ChangeSet:
        zone = await self._zone()
        link = page or cursor
        if link is None:
            url = f"{self._calendar_path(calendar_id)}/calendarView/delta"
            params: dict[str, str] | None = {
                "startDateTime": iso_z(window.start),
                "endDateTime": iso_z(window.end),
            }
        else:
            if not link.startswith(f"{self._base}/"):
                raise CursorExpired("The Microsoft 365 sync cursor is not valid; run a full sync.")
            url, params = link, None
        response = await self._graph.request(
            "GET", url, params=params, calendar_id=calendar_id, page_size=PAGE_SIZE
        )
        assert response is not None
        payload = response.json()
        changes = ChangePage("microsoft", calendar_id)
        for item in payload.get("value", ()):
            if "@removed" in item:
                changes.removed.append(str(item["id"]))
            elif item.get("type") != "seriesMaster":
                event = changes.read(str(item.get("id")), partial(to_event, item, zone))
                if event is not None:
                    changes.changed.append(event)
        return changes.page(
            next_page=payload.get("@odata.nextLink"), cursor=payload.get("@odata.deltaLink")
        )

    # push (see `push`) ---------------------------------------------------------------

    async def watch(
        self, calendar_id: str, *, channel_id: str, address: str, token: str, ttl: dt.timedelta
    ) -> Watch:
        """A change-notification subscription on the calendar's events (see `push`)."""
        expires = push.expiry(ttl)
        response = await self._graph.request(
            "POST",
            f"{self._base}/subscriptions",
            body=push.subscription_body(
                resource=push.events_resource(calendar_id, self._email),
                address=address,
                token=token,
                expires=expires,
            ),
            calendar_id=calendar_id,
        )
        assert response is not None
        return push.watch_answer(response.json(), expires)

    async def renew_watch(self, watch: Watch, ttl: dt.timedelta) -> Watch:
        """PATCH the subscription's expiry; a subscription Graph no longer knows fails
        (the caller opens a new one)."""
        expires = push.expiry(ttl)
        response = await self._graph.request(
            "PATCH",
            f"{self._base}/subscriptions/{segment(watch.id)}",
            body=push.renewal_body(expires),
        )
        assert response is not None
        return push.watch_answer(response.json(), expires)

    async def stop_watch(self, watch: Watch) -> None:
        await self._graph.request(
            "DELETE", f"{self._base}/subscriptions/{segment(watch.id)}", tolerate=(404,)
        )

    # reads ------------------------------------------------------------------------------

    async def _zone(self) -> str:
        """The mailbox's IANA zone (mailboxSettings), read once; UTC when Graph will not say
        (refused, unknown, or the look-up failed: it is optional, a revoked grant aside)."""
        if self._time_zone is None:
            try:
                response = await self._graph.request(
                    "GET", f"{self._base}/me/mailboxSettings", tolerate=(403, 404)
                )
            except AccessRevoked:
                raise
            except ProviderError as error:  # optional: any other failure means "unknown"
                log.warning("microsoft_mailbox_zone_lookup_failed", cause=type(error).__name__)
                response = None
            name = response.json().get("timeZone") if response is not None else None
            zone = zone_name(str(name)) if name else None
            if zone is None:
                log.warning("microsoft_mailbox_zone_unknown", email=self._email)
            self._time_zone = zone or "UTC"
        return self._time_zone

    async def _schedule(
        self, mailboxes: list[str], window: Interval
    ) -> dict[str, list[Interval] | ProviderError]:
        response = await self._graph.request(
            "POST",
            f"{self._base}/me/calendar/getSchedule",
            body={
                "schedules": mailboxes,
                "startTime": graph_utc(window.start),
                "endTime": graph_utc(window.end),
                "availabilityViewInterval": 30,
            },
        )
        assert response is not None
        answers: dict[str, list[Interval] | ProviderError] = {}
        for schedule in response.json().get("value", ()):
            schedule_id = str(schedule.get("scheduleId") or "")
            match = next((m for m in mailboxes if m.lower() == schedule_id.lower()), schedule_id)
            error = schedule.get("error")
            if error:
                answers[match] = schedule_error(error, match)
                continue
            answers[match] = [
                Interval(instant(item["start"]), instant(item["end"]))
                for item in schedule.get("scheduleItems") or ()
                if SHOW_AS.get(str(item.get("status")), ShowAs.BUSY)
                not in (ShowAs.FREE, ShowAs.WORKING_ELSEWHERE)  # C4
            ]
        for mailbox in mailboxes:  # a schedule Graph did not answer for is not free time
            answers.setdefault(mailbox, ProviderError("Microsoft 365 did not answer for it."))
        return answers

    async def _view(
        self, calendar_id: str, start: dt.datetime, end: dt.datetime, zone: str
    ) -> list[RemoteEvent]:
        params = {
            "startDateTime": iso_z(start),
            "endDateTime": iso_z(end),
            "$top": str(PAGE_SIZE),
        }
        url = f"{self._calendar_path(calendar_id)}/calendarView"
        skipped = Skipped("microsoft", calendar_id)  # logged; the rest is still busy time
        events = [
            skipped.read(str(item.get("id")), partial(to_event, item, zone))
            async for item in self._graph.items(url, params, calendar_id=calendar_id)
            if item.get("type") != "seriesMaster"
        ]
        return [event for event in events if event is not None]

    async def _find_by_key(self, calendar_id: str, key: str) -> str | None:
        """The event written with `key`: looked up by the extended property, and adopted only
        when what came back carries the key (the property, expanded, or the transactionId),
        so a server that ignores or loosens the filter cannot hand us someone else's event."""
        literal = key.replace("'", "''")
        params = {
            "$filter": (
                f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' "
                f"and ep/value eq '{literal}')"
            ),
            "$select": "id,transactionId",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}')",
            "$top": "10",
        }
        url = f"{self._calendar_path(calendar_id)}/events"
        async for item in self._graph.items(url, params, calendar_id=calendar_id):
            if carries_key(item, KEY_PROPERTY, key):
                return str(item["id"])
        return None

    def _calendar_path(self, calendar_id: str) -> str:
        if not is_mailbox(calendar_id):
            return f"{self._base}/me/calendars/{segment(calendar_id)}"
        if calendar_id.lower() == self._email.lower():
            return f"{self._base}/me/calendar"
        return f"{self._base}/users/{segment(calendar_id)}/calendar"
