"""The `CalendarClient` for one Google account over Calendar API v3 REST.

Free/busy goes through `freeBusy` in requests of at most 50 calendars and windows of at most
`FREE_BUSY_MAX_SPAN` (Google refuses longer ranges), asked in UTC; spans cut at a window seam
are joined again by `merge_spans`. Google already applies transparency, declined invitations,
cancellations and all-day blocking in the calendar's zone; per-calendar `errors` in the
answer become that calendar's error (never free time): `notFound` is `CalendarGone` (S13, C2).

Sync (`list_changes`) uses `events.list` with `singleEvents=true` (every occurrence is its own
item, so a cancelled occurrence arrives as a `cancelled` item; the full listing asks for
`showDeleted` so it reads like later syncs) and Google's `syncToken`; a `410 Gone` answer to
an old token is `CursorExpired`. Incremental answers are not limited to the window, so an
event moved out of it is reported as removed.

Idempotent creates: a retried insert with the id derived from the key answers `409 Conflict`
and lands once. An event is adopted only when it carries the key (`wire.carries_key`): on a
409 the event holding the id is read and checked; when it is someone else's (or deleted), the
key is looked up by its private extended property, every answer checked again (a server
that loosens the filter must not hand us an unrelated event), and failing that the event is
inserted with an id Google chooses. Every request carries `BearerAuth` (one refresh and
resend on 401) and runs inside `errors.mapped`, retried by `with_retries` within its bounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from collections.abc import Sequence
from functools import partial
from typing import Any
from typing import Final

import httpx

from slotgraph.providers.auth import BearerAuth
from slotgraph.providers.base import Access
from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import EventGone
from slotgraph.providers.base import FreeBusy
from slotgraph.providers.base import Interval
from slotgraph.providers.base import NotOffered
from slotgraph.providers.base import RemoteCalendarInfo
from slotgraph.providers.base import TokenSource
from slotgraph.providers.base import TransientError
from slotgraph.providers.base import Watch
from slotgraph.providers.base import chunked
from slotgraph.providers.base import owned_calendar
from slotgraph.providers.base import windows
from slotgraph.providers.busy import FreeBusyAnswer
from slotgraph.providers.google import push
from slotgraph.providers.google.errors import REVOKED_MESSAGE
from slotgraph.providers.google.errors import free_busy_error
from slotgraph.providers.google.errors import mapped
from slotgraph.providers.google.wire import KEY_PROPERTY
from slotgraph.providers.google.wire import calendar_info
from slotgraph.providers.google.wire import carries_key
from slotgraph.providers.google.wire import event_body
from slotgraph.providers.google.wire import event_id_for
from slotgraph.providers.google.wire import overlaps
from slotgraph.providers.google.wire import parse_instant
from slotgraph.providers.google.wire import remote_event
from slotgraph.providers.google.wire import rfc3339
from slotgraph.providers.google.wire import segment
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy
from slotgraph.providers.retry import with_retries
from slotgraph.providers.unreadable import ChangePage

FREE_BUSY_MAX_CALENDARS: Final = 50
FREE_BUSY_MAX_SPAN: Final = dt.timedelta(days=60)
PAGE_SIZE: Final = 250


class GoogleCalendarClient:
    """Calendar API v3 for one connected Google account."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        api_base_url: str,
        tokens: TokenSource,
        account_email: str,
        timeout: float,
        retry: RetryPolicy = PATIENT,
    ) -> None:
        self._http = http
        self._base = api_base_url.rstrip("/")
        self._auth = BearerAuth(tokens, REVOKED_MESSAGE)
        self._account_email = account_email
        self._timeout = timeout
        self._retry = retry

    def __repr__(self) -> str:
        return f"GoogleCalendarClient(account_email={self._account_email!r})"

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        calendar_id: str | None = None,
        allow: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """One authorized call with retries; a 401 forces one token refresh, and a second
        401 means the grant is gone. Statuses in `allow` are returned to the caller."""

        async def attempt() -> httpx.Response:
            with mapped(calendar_id):
                response = await self._http.request(
                    method,
                    f"{self._base}{path}",
                    params=params,
                    json=json,
                    auth=self._auth,
                    timeout=self._timeout,
                )
                if response.status_code not in allow:
                    response.raise_for_status()
            return response

        return await with_retries(attempt, self._retry)

    async def list_calendars(self) -> list[RemoteCalendarInfo]:
        calendars: list[RemoteCalendarInfo] = []
        page: str | None = None
        while True:
            # Hidden calendars are still the user's to read and to lose (S12, S13).
            params = {"maxResults": str(PAGE_SIZE), "showHidden": "true"}
            if page:
                params["pageToken"] = page
            body = (await self._send("GET", "/users/me/calendarList", params=params)).json()
            calendars.extend(
                calendar_info(item) for item in body.get("items") or () if not item.get("deleted")
            )
            page = body.get("nextPageToken")
            if not page:
                break
        calendars.sort(key=lambda calendar: not calendar.is_primary)
        return calendars

    async def free_busy(
        self, calendar_ids: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> FreeBusy:
        collected = FreeBusyAnswer(calendar_ids)
        for chunk in chunked(list(dict.fromkeys(calendar_ids)), FREE_BUSY_MAX_CALENDARS):
            for window in windows(start, end, FREE_BUSY_MAX_SPAN):
                body = (
                    await self._send(
                        "POST",
                        "/freeBusy",
                        json={
                            "timeMin": rfc3339(window.start),
                            "timeMax": rfc3339(window.end),
                            "timeZone": "UTC",
                            "items": [{"id": calendar_id} for calendar_id in chunk],
                        },
                    )
                ).json()
                answers = body.get("calendars") or {}
                for calendar_id in chunk:
                    answer = answers.get(calendar_id)
                    if answer is None:
                        collected.fail(
                            calendar_id,
                            TransientError("Google did not report this calendar's busy time."),
                        )
                        continue
                    if answer.get("errors"):
                        collected.fail(calendar_id, free_busy_error(calendar_id, answer["errors"]))
                        continue
                    collected.busy[calendar_id].extend(
                        Interval(parse_instant(b["start"]), parse_instant(b["end"]))
                        for b in answer.get("busy") or ()
                    )
        return collected.result(start, end)

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        key = draft.idempotency_key
        if key:
            event_id = event_id_for(key)
            created = await self._insert(calendar_id, draft, event_id)
            if created is not None:
                return created
            # 409: the id is taken, by an earlier attempt with this key or by something else.
            if await self._event_carries_key(calendar_id, event_id, key):
                return event_id
            found = await self._find_by_key(calendar_id, key)
            if found is not None:
                return found
        inserted = await self._insert(calendar_id, draft, None)
        assert inserted is not None  # without an id of ours there is nothing to collide with
        return inserted

    async def _events(
        self, calendar_id: str, params: Mapping[str, str], allow: frozenset[int] = frozenset()
    ) -> httpx.Response:
        """events.list of one calendar."""
        return await self._send(
            "GET",
            f"/calendars/{segment(calendar_id)}/events",
            params=params,
            calendar_id=calendar_id,
            allow=allow,
        )

    async def _insert(
        self, calendar_id: str, draft: EventDraft, event_id: str | None
    ) -> str | None:
        """events.insert, with `event_id` when given; None when that id is taken (409)."""
        body = event_body(draft)
        if event_id is not None:
            body["id"] = event_id
        response = await self._send(
            "POST",
            f"/calendars/{segment(calendar_id)}/events",
            params={"sendUpdates": "all" if draft.send_invitations else "none"},
            json=body,
            calendar_id=calendar_id,
            allow=frozenset({409}) if event_id is not None else frozenset(),
        )
        if response.status_code == 409:
            return None
        return str(response.json()["id"])

    async def _event_carries_key(self, calendar_id: str, event_id: str, key: str) -> bool:
        response = await self._send(
            "GET",
            f"/calendars/{segment(calendar_id)}/events/{segment(event_id)}",
            calendar_id=calendar_id,
            allow=frozenset({404, 410}),
        )
        return response.status_code == 200 and carries_key(response.json(), key)

    async def _find_by_key(self, calendar_id: str, key: str) -> str | None:
        """The live event carrying `key`, by its private extended property, checked."""
        page: str | None = None
        while True:
            params = {"privateExtendedProperty": f"{KEY_PROPERTY}={key}", "maxResults": "250"}
            if page:
                params["pageToken"] = page
            body = (await self._events(calendar_id, params)).json()
            for item in body.get("items") or ():
                if carries_key(item, key):
                    return str(item["id"])
            page = body.get("nextPageToken")
            if not page:
                return None

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        response = await self._send(
            "PATCH",
            f"/calendars/{segment(calendar_id)}/events/{segment(event_id)}",
            params={"sendUpdates": "all" if draft.send_invitations else "none"},
            json=event_body(draft),
            calendar_id=calendar_id,
            allow=frozenset({404, 410}),
        )
        if response.status_code in {404, 410}:
            # Google answers the same for a missing event and a missing calendar; the
            # event is what the caller asked about.
            raise EventGone(
                "This event no longer exists at Google (deleted there?); book it again."
            )

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        await self._send(
            "DELETE",
            f"/calendars/{segment(calendar_id)}/events/{segment(event_id)}",
            params={"sendUpdates": "all"},
            allow=frozenset({404, 410}),
        )

    async def create_calendar(self, name: str) -> RemoteCalendarInfo:
        """Reuses an owned calendar of that name, so a retried create (task sync, S10)
        does not leave two."""
        for calendar in await self.list_calendars():
            if (
                calendar.access is Access.OWNER
                and not calendar.is_primary
                and calendar.name == name
            ):
                return calendar
        body = (await self._send("POST", "/calendars", json={"summary": name})).json()
        return owned_calendar(
            str(body["id"]), str(body.get("summary") or name), str(body.get("timeZone") or "UTC")
        )

    async def list_changes(
        self, calendar_id: str, cursor: str | None, window: Interval, page: str | None = None
    ) -> ChangeSet:
        params = {"singleEvents": "true", "maxResults": str(PAGE_SIZE)}
        if cursor is not None:
            params["syncToken"] = cursor  # Google refuses timeMin/timeMax with a syncToken
        else:
            params["timeMin"] = rfc3339(window.start)
            params["timeMax"] = rfc3339(window.end)
            # Cancelled instances of series come as `cancelled` items, as in later syncs.
            params["showDeleted"] = "true"
        if page is not None:
            params["pageToken"] = page
        response = await self._events(calendar_id, params, allow=frozenset({410}))
        if response.status_code == 410:
            raise CursorExpired("Google no longer accepts the sync token; run a full sync.")
        body = response.json()
        changes = ChangePage("google", calendar_id)
        for item in body.get("items") or ():
            if item.get("status") == "cancelled":
                changes.removed.append(str(item["id"]))
                continue
            event = changes.read(str(item.get("id")), partial(remote_event, item))
            if event is not None:
                changes.in_window(event, overlaps(event, window.start, window.end))
        return changes.page(next_page=body.get("nextPageToken"), cursor=body.get("nextSyncToken"))

    async def watch(
        self, calendar_id: str, *, channel_id: str, address: str, token: str, ttl: dt.timedelta
    ) -> Watch:
        """`events.watch` (see `push`)."""
        response = await self._send(
            "POST",
            push.watch_path(segment(calendar_id)),
            json=push.watch_body(channel_id=channel_id, address=address, token=token, ttl=ttl),
            calendar_id=calendar_id,
        )
        return push.watch_answer(response.json(), ttl)

    async def renew_watch(self, watch: Watch, ttl: dt.timedelta) -> Watch:
        raise NotOffered("Google channels cannot be extended; open a new one.")

    async def stop_watch(self, watch: Watch) -> None:
        """`channels.stop`; a channel Google no longer knows (404) is already stopped."""
        await self._send("POST", push.STOP_PATH, json=push.stop_body(watch), allow=frozenset({404}))
