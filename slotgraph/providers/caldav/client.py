"""The `CalendarClient` for one CalDAV account (C28), over an async httpx client.

Why not the `caldav` library in threads: every call here must go through C46's checked
transport (`outbound.CheckedTransport`, an httpx transport that checks the connected peer
address), and the adapter needs the raw statuses and headers the library hides (412 on a
conditional PUT, Retry-After, the `valid-sync-token` and `no-uid-conflict` preconditions,
ETags). The few requests CalDAV needs are small XML bodies (`dav`), so an async client is
simpler than a thread pool and cannot block the event loop.

Identifiers. A calendar's remote id is its collection URL; an event's is its resource path
(`#RECURRENCE-ID` appended for an occurrence of a series, `wire`).

Writes (S12, C14). A create PUTs `<calendar>/<uid>.ics` with `If-None-Match: *`, the UID
derived from the draft's idempotency key: a retried create finds its own resource (412,
then a GET shows our UID) instead of doubling it; a foreign resource at that path (or a
server's `no-uid-conflict` naming where the UID already lives) is never adopted. Updates
PUT with `If-Match` on the ETag just read, bumping SEQUENCE; deletes of a resource already
gone succeed. Every event carries SCHEDULE-AGENT=CLIENT (C44).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Final

import httpx

from slotgraph.providers.base import Access
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import EventGone
from slotgraph.providers.base import FreeBusy
from slotgraph.providers.base import Interval
from slotgraph.providers.base import NotOffered
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import RemoteCalendarInfo
from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.base import Watch
from slotgraph.providers.base import chunked
from slotgraph.providers.base import owned_calendar
from slotgraph.providers.busy import FreeBusyAnswer
from slotgraph.providers.caldav.dav import CALDAV
from slotgraph.providers.caldav.dav import DAV
from slotgraph.providers.caldav.dav import ICAL
from slotgraph.providers.caldav.dav import Resource
from slotgraph.providers.caldav.dav import absolute
from slotgraph.providers.caldav.dav import calendar_query
from slotgraph.providers.caldav.dav import error_hrefs
from slotgraph.providers.caldav.dav import has_error
from slotgraph.providers.caldav.dav import mkcalendar
from slotgraph.providers.caldav.dav import multiget
from slotgraph.providers.caldav.dav import parse_multistatus
from slotgraph.providers.caldav.dav import path_of
from slotgraph.providers.caldav.dav import propfind
from slotgraph.providers.caldav.dav import q
from slotgraph.providers.caldav.dav import same_path
from slotgraph.providers.caldav.dav import sync_collection
from slotgraph.providers.caldav.errors import not_dav
from slotgraph.providers.caldav.http import ICAL_TYPE
from slotgraph.providers.caldav.http import DavHttp
from slotgraph.providers.caldav.sync import Cursor
from slotgraph.providers.caldav.sync import Listing
from slotgraph.providers.caldav.wire import Reader
from slotgraph.providers.caldav.wire import draft_ics
from slotgraph.providers.caldav.wire import parse
from slotgraph.providers.caldav.wire import resource_uid
from slotgraph.providers.caldav.wire import sequence_of
from slotgraph.providers.caldav.wire import uid_for
from slotgraph.providers.caldav.wire import zone_ics
from slotgraph.providers.caldav.wire import zone_of
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy
from slotgraph.providers.unreadable import Skipped

MULTIGET_MAX: Final = 100  # hrefs per calendar-multiget
_CREATE_PATHS: Final = 3  # own path, then two more when a foreign resource sits there
_CALENDAR_PROPS: Final = (
    q(DAV, "resourcetype"),
    q(DAV, "displayname"),
    q(DAV, "current-user-privilege-set"),
    q(ICAL, "calendar-color"),
    q(CALDAV, "supported-calendar-component-set"),
    q(CALDAV, "calendar-timezone"),
    q(CALDAV, "calendar-timezone-id"),
)
_NO_PUSH: Final = "CalDAV calendars are polled; push notifications are not used."


class CalDavCalendarClient:
    """`CalendarClient` for one CalDAV account: `home_url` holds its calendars,
    `default_calendar_url` is the server's default for meetings (RFC 6638) when it names
    one, `addresses` the user's calendar addresses (their PARTSTAT, C4), `time_zone` the
    zone for calendars that declare none (and for the calendars we create)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        email: str,
        username: str,
        password: str,
        home_url: str,
        default_calendar_url: str | None,
        addresses: Sequence[str],
        time_zone: str,
        timeout: float,
        retry: RetryPolicy = PATIENT,
    ) -> None:
        self._dav = DavHttp(http, username, password, timeout, retry)
        self._email = email
        self._home = home_url if home_url.endswith("/") else home_url + "/"
        self._default = default_calendar_url
        self._addresses = frozenset(a.lower() for a in (email, *addresses))
        self._time_zone = time_zone
        self._zones: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"CalDavCalendarClient(email={self._email!r}, home={self._home!r})"

    # calendars ----------------------------------------------------------------------------

    async def list_calendars(self) -> list[RemoteCalendarInfo]:
        response = await self._dav.send(
            "PROPFIND", self._home, body=propfind(_CALENDAR_PROPS), depth="1"
        )
        calendars = [
            info
            for resource in _multistatus(response)
            if (info := self._calendar_info(str(response.url), resource)) is not None
        ]
        default = next(
            (c for c in calendars if self._default and same_path(c.remote_id, self._default)),
            None,
        ) or next((c for c in calendars if c.access is not Access.READER), None)
        marked = [
            _with_primary(c, default is not None and c.remote_id == default.remote_id)
            for c in calendars
        ]
        return sorted(marked, key=lambda c: not c.is_primary)

    def _calendar_info(self, base: str, resource: Resource) -> RemoteCalendarInfo | None:
        if not resource.has(q(DAV, "resourcetype"), q(CALDAV, "calendar")):
            return None
        components = resource.props.get(q(CALDAV, "supported-calendar-component-set"))
        if components is not None and not any(
            c.get("name", "").upper() == "VEVENT" for c in components
        ):
            return None  # a task list (VTODO only)
        url = absolute(base, resource.href)
        privileges = q(DAV, "current-user-privilege-set")
        writable = resource.props.get(privileges) is None or any(
            resource.has(privileges, q(DAV, name)) for name in ("write", "write-content", "all")
        )
        zone = zone_of(
            resource.text(q(CALDAV, "calendar-timezone")),
            resource.text(q(CALDAV, "calendar-timezone-id")),
            self._time_zone,
        )
        self._zones[url] = zone
        return RemoteCalendarInfo(
            remote_id=url,
            name=resource.text(q(DAV, "displayname")) or path_of(url).rstrip("/").rsplit("/")[-1],
            time_zone=zone,
            access=Access.OWNER if writable else Access.READER,
            is_primary=False,
            color=resource.text(q(ICAL, "calendar-color")),
        )

    async def create_calendar(self, name: str) -> RemoteCalendarInfo:
        slug = "slotgraph-" + hashlib.sha256(name.encode()).hexdigest()[:16]
        url = f"{self._home}{slug}/"
        response = await self._dav.send(
            "MKCALENDAR",
            url,
            body=mkcalendar(name, zone_ics(self._time_zone)),
            accept=(403, 405, 409),  # already there: a retried create
        )
        if response.status_code in (403, 405, 409):
            existing = next(
                (c for c in await self.list_calendars() if same_path(c.remote_id, url)), None
            )
            if existing is None:
                raise ProviderError("The CalDAV server refused to create the calendar.")
            return owned_calendar(existing.remote_id, existing.name, existing.time_zone)
        self._zones[url] = self._time_zone
        return owned_calendar(url, name, self._time_zone)

    async def _zone(self, calendar_id: str) -> str:
        if calendar_id not in self._zones:
            response = await self._dav.send(
                "PROPFIND",
                calendar_id,
                body=propfind(_CALENDAR_PROPS),
                depth="0",
                calendar_id=calendar_id,
            )
            resources = _multistatus(response)
            if not resources or self._calendar_info(calendar_id, resources[0]) is None:
                raise CalendarGone("This address is no longer a calendar.", calendar_id)
            self._zones[calendar_id] = self._zones.get(
                absolute(calendar_id, resources[0].href), self._time_zone
            )
        return self._zones[calendar_id]

    async def _reader(self, calendar_id: str) -> Reader:
        return Reader(await self._zone(calendar_id), self._addresses)

    # free/busy ----------------------------------------------------------------------------

    async def free_busy(
        self, calendar_ids: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> FreeBusy:
        ids = list(dict.fromkeys(calendar_ids))
        answer = FreeBusyAnswer(ids)
        for calendar_id in ids:
            try:
                reader = await self._reader(calendar_id)
                events, _ = await self._query(calendar_id, reader, Interval(start, end))
            except CalendarGone as error:
                answer.fail(calendar_id, error)
                continue
            answer.add_events(calendar_id, events, reader.time_zone)
        return answer.result(start, end)

    async def _query(
        self, calendar_id: str, reader: Reader, window: Interval
    ) -> tuple[list[RemoteEvent], list[str]]:
        """Every event of the window (one calendar-query) and the resources skipped."""
        response = await self._dav.send(
            "REPORT",
            calendar_id,
            body=calendar_query(window.start, window.end),
            depth="1",
            calendar_id=calendar_id,
        )
        skipped = Skipped("caldav", calendar_id)
        events: list[RemoteEvent] = []
        for resource in _multistatus(response):
            data = resource.text(q(CALDAV, "calendar-data"))
            if data is None:
                continue
            events.extend(_read(skipped, reader, resource.href, data, window) or ())
        return events, skipped.ids

    # writes -------------------------------------------------------------------------------

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        uid = uid_for(draft.idempotency_key) if draft.idempotency_key else str(uuid.uuid4())
        body = draft_ics(draft, uid, organizer=self._email, sequence=0, now=_now())
        base = calendar_id if calendar_id.endswith("/") else calendar_id + "/"
        for attempt in range(_CREATE_PATHS):
            url = f"{base}{uid}.ics" if attempt == 0 else f"{base}{uid}-{attempt}.ics"
            response = await self._dav.send(
                "PUT",
                url,
                body=body,
                content_type=ICAL_TYPE,
                headers={"If-None-Match": "*"},
                calendar_id=calendar_id,
                accept=(403, 409, 412),
            )
            if response.is_success:
                return path_of(url)
            conflict = error_hrefs(response.content, q(CALDAV, "no-uid-conflict"))
            if conflict:  # the UID is already stored elsewhere in this calendar: ours
                return conflict[0]
            if response.status_code == 403:
                raise CalendarGone("The calendar does not accept new events.", calendar_id)
            if response.status_code == 412 and await self._holds_uid(calendar_id, url, uid):
                return path_of(url)  # a retried create: it landed before
        raise ProviderError("The calendar holds other events where this one belongs.")

    async def _holds_uid(self, calendar_id: str, url: str, uid: str) -> bool:
        stored = await self._dav.send("GET", url, calendar_id=calendar_id, accept=(404,))
        if stored.status_code == 404:
            return False
        try:
            return resource_uid(parse(stored.text)) == uid
        except ValueError:
            return False

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        url = absolute(calendar_id, event_id.split("#", 1)[0])
        for _ in range(2):  # once more when someone else saved in between (412)
            stored = await self._dav.send("GET", url, calendar_id=calendar_id, accept=(404, 410))
            if stored.status_code in (404, 410):
                raise EventGone("The event was deleted from the calendar.")
            try:
                uid = resource_uid(parse(stored.text)) or uid_for(event_id)
            except ValueError:
                uid = uid_for(event_id)
            body = draft_ics(
                draft,
                uid,
                organizer=self._email,
                sequence=sequence_of(stored.text) + 1,
                now=_now(),
            )
            headers = {"If-Match": stored.headers["ETag"]} if "ETag" in stored.headers else {}
            response = await self._dav.send(
                "PUT",
                url,
                body=body,
                content_type=ICAL_TYPE,
                headers=headers,
                calendar_id=calendar_id,
                accept=(404, 412),
            )
            if response.status_code == 404:
                raise EventGone("The event was deleted from the calendar.")
            if response.is_success:
                return
        raise ProviderError("The event keeps changing on the calendar; try again.")

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        url = absolute(calendar_id, event_id.split("#", 1)[0])
        await self._dav.send("DELETE", url, calendar_id=calendar_id, accept=(404, 410))

    # sync -----------------------------------------------------------------------------------

    async def list_changes(
        self, calendar_id: str, cursor: str | None, window: Interval, page: str | None = None
    ) -> ChangeSet:
        reader = await self._reader(calendar_id)
        if cursor is None:
            return await self._full(calendar_id, reader, window)
        return await self._incremental(calendar_id, reader, window, Cursor.load(cursor))

    async def _full(self, calendar_id: str, reader: Reader, window: Interval) -> ChangeSet:
        """RFC 6578's initial sync (an empty token): every member, read and kept when it
        falls in the window, so members a time-range query never returns (an event without
        a start) are still seen and reported skipped. Servers without sync-collection:
        ETag listing, then a calendar-query of the window."""
        try:
            members, _, token = await self._sync_report(calendar_id, "")
        except (CursorExpired, CalendarGone):
            # No RFC 6578 here (a refused REPORT); a calendar really gone fails just below.
            token = None
        if token is not None:
            return await self._read_members(
                calendar_id, reader, window, Listing({}, full=True), members, Cursor(token=token)
            )
        fresh = Cursor(etags=await self._etags(calendar_id))
        events, skipped = await self._query(calendar_id, reader, window)
        listing = Listing({}, full=True)
        by_href: dict[str, list[RemoteEvent]] = {}
        for event in events:
            by_href.setdefault(event.remote_id.split("#", 1)[0], []).append(event)
        for href, found in by_href.items():
            listing.member(href, found)
        return listing.result(fresh, skipped)

    async def _etags(self, calendar_id: str) -> dict[str, str]:
        """ctag/etag fallback: every member's ETag (one Depth 1 PROPFIND)."""
        response = await self._dav.send(
            "PROPFIND",
            calendar_id,
            body=propfind([q(DAV, "getetag")]),
            depth="1",
            calendar_id=calendar_id,
        )
        return {
            r.href: etag
            for r in _multistatus(response)
            if (etag := r.text(q(DAV, "getetag"))) and not same_path(r.href, calendar_id)
        }

    async def _incremental(
        self, calendar_id: str, reader: Reader, window: Interval, cursor: Cursor
    ) -> ChangeSet:
        listing = Listing(old_series=cursor.series)
        if cursor.token is not None:
            changed, gone, token = await self._sync_report(calendar_id, cursor.token)
            fresh = Cursor(token=token or cursor.token)
        else:
            etags = await self._etags(calendar_id)
            old = cursor.etags or {}
            changed = [href for href, etag in etags.items() if old.get(href) != etag]
            gone = [href for href in old if href not in etags]
            fresh = Cursor(etags=etags)
        listing.gone(gone)
        return await self._read_members(calendar_id, reader, window, listing, changed, fresh)

    async def _read_members(
        self,
        calendar_id: str,
        reader: Reader,
        window: Interval,
        listing: Listing,
        hrefs: Sequence[str],
        fresh: Cursor,
    ) -> ChangeSet:
        """Fetch `hrefs` (calendar-multiget, in chunks) into `listing`."""
        skipped = Skipped("caldav", calendar_id)
        for chunk in chunked(hrefs, MULTIGET_MAX):
            response = await self._dav.send(
                "REPORT", calendar_id, body=multiget(chunk), depth="1", calendar_id=calendar_id
            )
            for resource in _multistatus(response):
                data = resource.text(q(CALDAV, "calendar-data"))
                if data is None:
                    listing.gone([resource.href])  # removed since the report
                    continue
                events = _read(skipped, reader, resource.href, data, window)
                if events is not None:
                    listing.member(resource.href, events)
        return listing.result(fresh, skipped.ids)

    async def _sync_report(
        self, calendar_id: str, token: str
    ) -> tuple[list[str], list[str], str | None]:
        response = await self._dav.send(
            "REPORT",
            calendar_id,
            body=sync_collection(token),
            calendar_id=calendar_id,
            accept=(400, 403, 409, 412, 415, 501),
        )
        if not response.is_success:
            if response.status_code not in (403, 404) or has_error(
                response.content, q(DAV, "valid-sync-token")
            ):
                raise CursorExpired("The CalDAV server no longer accepts the sync token.")
            raise CalendarGone(
                "This calendar was deleted or is no longer shared with the account.",
                calendar_id,
            )
        try:
            resources, new_token = parse_multistatus(response.content)
        except (ValueError, SyntaxError):
            raise not_dav(connecting=False) from None
        members = [r for r in resources if not same_path(r.href, calendar_id)]
        gone = [r.href for r in members if r.status in (404, 410)]
        changed = [r.href for r in members if r.status not in (404, 410)]
        return changed, gone, new_token

    # push: not offered ------------------------------------------------------------------

    async def watch(
        self, calendar_id: str, *, channel_id: str, address: str, token: str, ttl: dt.timedelta
    ) -> Watch:
        raise NotOffered(_NO_PUSH)

    async def renew_watch(self, watch: Watch, ttl: dt.timedelta) -> Watch:
        raise NotOffered(_NO_PUSH)

    async def stop_watch(self, watch: Watch) -> None:
        raise NotOffered(_NO_PUSH)


def _read(
    skipped: Skipped, reader: Reader, href: str, data: str, window: Interval
) -> list[RemoteEvent] | None:
    """The member's occurrences, or None (skipped, logged) when it cannot be read."""
    return skipped.read(href, lambda: reader.occurrences(href, data, window))


def _multistatus(response: httpx.Response) -> list[Resource]:
    try:
        return parse_multistatus(response.content)[0]
    except (ValueError, SyntaxError):
        raise not_dav(connecting=False) from None


def _with_primary(info: RemoteCalendarInfo, primary: bool) -> RemoteCalendarInfo:
    return replace(info, is_primary=primary)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
