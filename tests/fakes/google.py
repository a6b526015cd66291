"""A protocol-level fake of Google's OAuth 2.0 endpoints and Calendar API v3 for one Google
account, served over loopback HTTP by `tests.fakes.http.LoopbackServer`.

The Google adapter is tested through its real client code (httpx and authlib's message
helpers) against this fake, which speaks Google's documented wire formats rather than what
the adapter happens to expect:

OAuth 2.0 (developers.google.com/identity/protocols/oauth2/web-server):
- `GET /o/oauth2/v2/auth` plays the consent screen. The user's choice is preset
  (`consent`): "allow" redirects (302) to `redirect_uri?state=..&code=..&scope=..`, "deny"
  to `redirect_uri?error=access_denied&state=..`; `granted_scopes` models granular consent
  (a user unticking the calendar scope). A bad client id or redirect URI is an error page,
  never a redirect, as at Google.
- `POST /token`: `authorization_code` with real PKCE S256 verification (the code's
  challenge against `code_verifier`), the redirect URI checked against the consent's, codes
  single-use and short-lived; `refresh_token` grants; `invalid_grant` for unknown, used or
  revoked codes and refresh tokens; `invalid_client` for a wrong client secret. Answers carry
  `expires_in`, `token_type`, `scope` (with `email` expanded to its URL, as Google does) and an
  `id_token`; a refresh answer has no new refresh token.
- `POST /revoke` (form `token=`): revokes the whole grant (its refresh and access tokens);
  an unknown token answers 400 `invalid_token`.
- `GET /v1/userinfo` (OpenID Connect): the account's `sub`, `email`, `email_verified`.

Calendar API v3 under `/calendar/v3` (developers.google.com/calendar/api/v3/reference):
- `calendarList.list` paged with `nextPageToken`/`pageToken` (the fake's page size is
  `calendar_page_size`, smaller than any `maxResults`, as Google may return fewer), every
  `accessRole` including `freeBusyReader`, `primary` only on the primary entry, which is not
  listed first; hidden entries (`hidden: true`) are left out unless `showHidden=true`.
- `freeBusy.query`: busy time computed from the stored events with Google's semantics
  (transparent events free, declined-by-self free, cancelled free, all-day events blocking
  their dates in the calendar's zone), merged, clipped to the window and written in the
  request's `timeZone`; per-calendar `errors` (`notFound` for a deleted or unknown calendar,
  `tooManyCalendarsRequested` past 50 items); a window longer than 90 days is a 400.
- `events.list` with `singleEvents`, `showDeleted`, `timeMin`/`timeMax`, paging
  (`events_page_size`), `syncToken` -> `nextSyncToken` on the last page, deletions as
  `cancelled` items in incremental answers, and `410 Gone` (`fullSyncRequired`) for a sync
  token it no longer accepts; `syncToken` with `timeMin`/`timeMax` is a 400.
- `events.insert` honouring client-chosen ids (base32hex, 5-1024 characters) with 409
  `duplicate` for an id already used (deleted events keep theirs), `extendedProperties`
  (`private`/`shared`) stored as given, `events.get`, `events.patch`, `events.delete` (204;
  410 for an already deleted event, 404 for an unknown one), `calendars.insert`.
- `events.list` with `privateExtendedProperty=name=value` lists only events carrying it;
  `loose_lookups` makes it ignore that filter (a server that loosens what it cannot index).
- Bearer tokens: a missing, expired or revoked access token answers 401 `authError`; a token
  without the calendar scope answers 403 `insufficientPermissions`.
- Push (developers.google.com/calendar/api/guides/push): `events.watch` (POST
  `calendars/{id}/events/watch` with `id`, `type: web_hook`, `address`, `token`,
  `params.ttl`) answers an `api#channel` with a `resourceId` and `expiration` (ms since the
  epoch, capped at `max_channel_seconds`; a channel id already in use is 400), then sends
  the channel's `sync` message; every later change to the calendar's events is POSTed to
  the address with `X-Goog-Channel-ID`, `X-Goog-Channel-Token`, `X-Goog-Channel-Expiration`,
  `X-Goog-Resource-ID`, `X-Goog-Resource-URI`, `X-Goog-Resource-State: exists` and
  `X-Goog-Message-Number`, over real HTTP from a background thread (`notifier.deliveries`),
  until the channel expires by the fake's clock or is stopped. `channels.stop` (POST
  `/channels/stop` with `id` and `resourceId`) answers 204, or 404 for an unknown pair.
  Unlike Google, loopback `http://` addresses are accepted (tests have no public HTTPS).
- Fault injection (`fail`): 429 with `Retry-After`, 403 `rateLimitExceeded`, 503 bursts, and
  answers slower than the client's timeout.

The scripted calendar (`tests.fakes.scenario`) is served as Google stores it: `date` vs
`dateTime` (with the calendar zone's offset), `transparency`, `attendees[self].responseStatus`
with another organizer, `eventType` `outOfOffice` and `workingLocation` (always transparent),
`visibility: private`, a daily series expanded into instances with `recurringEventId` and
`originalStartTime` (ids `<series>_<UTC start>`), one instance cancelled, and a cancelled
single event. Every request is logged (`requests`) so tests can assert how the adapter
split, retried and authorised its calls.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import itertools
import json
import re
import secrets
import threading
from dataclasses import dataclass
from dataclasses import field
from types import TracebackType
from typing import Any
from typing import Literal
from urllib.parse import parse_qsl
from urllib.parse import quote
from urllib.parse import unquote
from urllib.parse import urlencode
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tests.fakes.http import Answer
from tests.fakes.http import LoopbackServer
from tests.fakes.http import Request
from tests.fakes.push import Notifier
from tests.fakes.scenario import EVENTS
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import ScriptedEvent

CLIENT_ID = "1234567890-slotgraph.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-fake-client-secret"
EMAIL = "ada.host@gmail.test"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
# Google answers with scope URLs where the request used the short OpenID names.
SCOPE_ALIASES = {
    "email": EMAIL_SCOPE,
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}

AUTH_PATH = "/o/oauth2/v2/auth"
TOKEN_PATH = "/token"
REVOKE_PATH = "/revoke"
USERINFO_PATH = "/v1/userinfo"
API_PREFIX = "/calendar/v3"

MAX_FREE_BUSY_CALENDARS = 50
MAX_FREE_BUSY_SPAN = dt.timedelta(days=90)
ACCESS_TOKEN_SECONDS = 3599
CODE_SECONDS = 600
BASE32HEX_ID = re.compile(r"^[0-9a-v]{5,1024}$")

TEAM_CALENDAR = "c_7f3a9e1b2d@group.calendar.google.com"
HOLIDAYS_CALENDAR = "en.usa#holiday@group.v.calendar.google.com"
BOSS_CALENDAR = "boss@example.test"
ORGANIZER = "boss@example.test"
CHANNEL_ID = re.compile(r"[A-Za-z0-9\-_+/=]{1,64}")

Consent = Literal["allow", "deny"]
FaultKind = Literal["429", "403-rate", "503", "slow", "garbled"]


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the fake saw it. `operation` names the API method
    (`freeBusy.query`, `events.insert`, `token`, ...); `body` is the JSON or form body."""

    operation: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    bearer: str | None
    items: int | None = None  # how many `items` the answer carried (listings)


@dataclass(slots=True)
class Calendar:
    id: str
    summary: str
    time_zone: str
    access_role: str
    primary: bool = False
    summary_override: str | None = None
    deleted: bool = False
    # Hidden from the user's list in Google Calendar; calendarList omits it unless asked.
    hidden: bool = False
    # Event resources as Google stores them (instances of series included), by id.
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Recurring masters (what `singleEvents=false` lists), by id.
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Change sequence of each event id (events and masters), for sync tokens.
    changed: dict[str, int] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        """This calendar as a `calendarList` entry."""
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{abs(hash(self.id)) % 10**15}"',
            "id": self.id,
            "summary": self.summary,
            "timeZone": self.time_zone,
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": self.access_role,
            "defaultReminders": [],
        }
        if self.summary_override:
            entry["summaryOverride"] = self.summary_override
        if self.primary:
            entry["primary"] = True
        if self.hidden:
            entry["hidden"] = True
            entry["selected"] = False
        return entry


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str | None
    scope: tuple[str, ...]
    expires_at: float
    used: bool = False


@dataclass(slots=True)
class _Grant:
    refresh_token: str
    scope: tuple[str, ...]
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry
    revoked: bool = False


@dataclass(slots=True)
class Channel:
    """A push channel as Google keeps it."""

    id: str
    resource_id: str
    calendar_id: str
    address: str
    token: str | None
    expires_at: float  # the fake's clock, seconds
    stopped: bool = False
    messages: int = 0


@dataclass(slots=True)
class _Fault:
    kind: FaultKind
    operation: str | None
    remaining: int | None
    retry_after: str | None
    delay: float


class FakeGoogle:
    """`with FakeGoogle() as google:` serves the scenario on the account's primary calendar.

    State is held under one lock because the loopback server answers on several threads.
    `now` is the fake's clock (token expiry); tests move it with `advance`."""

    def __init__(self, *, email: str = EMAIL, time_zone: str = TIME_ZONE) -> None:
        self.email = email
        self.time_zone = time_zone
        self.consent: Consent = "allow"
        self.granted_scopes: tuple[str, ...] | None = None  # None: everything asked for
        self.calendar_page_size = 2
        self.events_page_size = 250
        # events.list ignores `privateExtendedProperty` (see the module docstring).
        self.loose_lookups = False
        # Event ids listed with a `start` that has neither `date` nor `dateTime`: items the
        # adapter cannot read.
        self.unreadable: set[str] = set()
        self.requests: list[LoggedRequest] = []
        self.notifications: list[tuple[str, str, str]] = []  # (operation, event id, sendUpdates)
        self.calendars: dict[str, Calendar] = {}
        self._lock = threading.RLock()
        self._server = LoopbackServer(self._handle)
        self._seq = itertools.count(1)
        self._clock = 1_900_000_000.0
        self._codes: dict[str, _Code] = {}
        self._grants: list[_Grant] = []
        self._sync_tokens: dict[str, tuple[str, int, bool]] = {}
        self._pages: dict[str, dict[str, Any]] = {}
        self._faults: list[_Fault] = []
        self._issued: list[str] = []
        self.channels: dict[str, Channel] = {}
        self.max_channel_seconds = 7 * 86_400
        self.notifier = Notifier()
        self._seed()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeGoogle:
        self._server.start()
        self.notifier.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self.notifier.stop()

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def auth_url(self) -> str:
        return self.base_url + AUTH_PATH

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def revoke_url(self) -> str:
        return self.base_url + REVOKE_PATH

    @property
    def userinfo_url(self) -> str:
        return self.base_url + USERINFO_PATH

    @property
    def api_base_url(self) -> str:
        return self.base_url + API_PREFIX

    # -- what tests drive ----------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the fake's clock: codes and access tokens expire by it."""
        with self._lock:
            self._clock += seconds

    def grant(self, *, scope: tuple[str, ...] = ("openid", EMAIL_SCOPE, CALENDAR_SCOPE)) -> str:
        """A refresh token as if the user had consented earlier (adapter tests skip the
        browser); returns the refresh token."""
        with self._lock:
            grant = _Grant(self._new_secret("1//0g"), scope)
            self._grants.append(grant)
            return grant.refresh_token

    def access_token_for(self, refresh_token: str) -> str:
        """A live access token of the grant, as a refresh would have given."""
        with self._lock:
            grant = self._grant_by_refresh(refresh_token)
            assert grant is not None
            assert not grant.revoked
            return self._issue_access(grant)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is past its expiry (the next call answers 401)."""
        with self._lock:
            for grant in self._grants:
                for token in grant.access_tokens:
                    grant.access_tokens[token] = self._clock - 1

    def revoke_grants(self) -> None:
        """The user removed the app at myaccount.google.com: every token stops working."""
        with self._lock:
            for grant in self._grants:
                grant.revoked = True

    def grant_revoked(self, refresh_token: str) -> bool:
        with self._lock:
            grant = self._grant_by_refresh(refresh_token)
            return grant is None or grant.revoked

    def issued_secrets(self) -> list[str]:
        """Every code, access token and refresh token the fake handed out."""
        with self._lock:
            return list(self._issued)

    def expire_sync_tokens(self) -> None:
        with self._lock:
            self._sync_tokens.clear()

    def fail(
        self,
        kind: FaultKind,
        *,
        operation: str | None = None,
        times: int | None = 1,
        retry_after: str | None = None,
        delay: float = 5.0,
    ) -> None:
        """The next `times` requests (all when None) for `operation` (any when None) fail:
        `429` (with `Retry-After` when given), `403-rate` (403 `rateLimitExceeded`), `503`,
        `slow` (answered correctly after `delay` seconds), or `garbled` (200 with an HTML
        page, as a misconfigured proxy in front of the API answers)."""
        with self._lock:
            self._faults.append(_Fault(kind, operation, times, retry_after, delay))

    def fail_next(
        self,
        status: int,
        *,
        operation: str | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
    ) -> None:
        """The knob every provider fake shares (tests/helpers/harnesses.py): the next `times`
        requests answer `status` as Google does, 429 (with `Retry-After` seconds when given),
        403 `rateLimitExceeded` or 503."""
        kinds: dict[int, FaultKind] = {429: "429", 403: "403-rate", 503: "503"}
        after = None if retry_after is None else f"{retry_after:g}"
        self.fail(kinds[status], operation=operation, times=times, retry_after=after)

    def hang(
        self, *, operation: str | None = None, times: int | None = None, seconds: float = 5.0
    ) -> None:
        """The next `times` requests (all when None) are carried out but answered only after
        `seconds`: a lost answer for a client whose timeout is shorter."""
        self.fail("slow", operation=operation, times=times, delay=seconds)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def calls(
        self, operation: str | None = None, *, status: int | None = None
    ) -> list[LoggedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (operation is None or r.operation == operation)
                and (status is None or r.status == status)
            ]

    def event_id(self, scenario_id: str) -> str:
        """The Google event id the fake gave a scenario event."""
        for event in EVENTS:
            if event.id == scenario_id:
                return _event_id(event)
        raise KeyError(scenario_id)

    def add_event(
        self, event: ScriptedEvent, *, calendar_id: str | None = None, event_id: str | None = None
    ) -> str:
        """Add an event as if created in Google Calendar (with `event_id` where given);
        returns its id."""
        with self._lock:
            calendar = self.calendars[calendar_id or self.email]
            resource = self._resource(event, calendar)
            if event_id is not None:
                resource["id"] = event_id
            calendar.events[resource["id"]] = resource
            self._touch(calendar, resource)
            return str(resource["id"])

    def move_event(self, event_id: str, start: dt.datetime, end: dt.datetime) -> None:
        with self._lock:
            calendar = self.calendars[self.email]
            resource = calendar.events[event_id]
            resource["start"] = self._timed(start, calendar.time_zone)
            resource["end"] = self._timed(end, calendar.time_zone)
            self._touch(calendar, resource)

    def remove_event(self, event_id: str) -> None:
        """Delete in Google Calendar: the event stays as a `cancelled` tombstone."""
        with self._lock:
            calendar = self.calendars[self.email]
            resource = calendar.events[event_id]
            resource["status"] = "cancelled"
            self._touch(calendar, resource)

    def delete_calendar(self, calendar_id: str) -> None:
        with self._lock:
            self.calendars[calendar_id].deleted = True

    def add_calendars(self, count: int) -> list[str]:
        """`count` more calendars shared with the account (readers), for limit tests."""
        with self._lock:
            ids = []
            for index in range(count):
                calendar_id = f"colleague{index:03d}@example.test"
                self.calendars[calendar_id] = Calendar(
                    calendar_id, f"Colleague {index}", self.time_zone, "reader"
                )
                ids.append(calendar_id)
            return ids

    def event(self, event_id: str, calendar_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            resource: dict[str, Any] = json.loads(
                json.dumps(self.calendars[calendar_id or self.email].events[event_id])
            )
            return resource

    # -- seeding -------------------------------------------------------------------------

    def _seed(self) -> None:
        # Not in "primary first" order: Google does not promise one.
        for calendar in (
            Calendar(TEAM_CALENDAR, "Team", self.time_zone, "writer"),
            Calendar(
                HOLIDAYS_CALENDAR,
                "Holidays in United States",
                self.time_zone,
                "reader",
                summary_override="US holidays",
            ),
            Calendar(self.email, self.email, self.time_zone, "owner", primary=True),
            Calendar(BOSS_CALENDAR, BOSS_CALENDAR, self.time_zone, "freeBusyReader"),
        ):
            self.calendars[calendar.id] = calendar
        primary = self.calendars[self.email]
        for event in EVENTS:
            resource = self._resource(event, primary)
            primary.events[resource["id"]] = resource
            self._touch(primary, resource)
            if event.series_id is not None and event.series_id not in primary.series:
                master = self._master(event, primary)
                primary.series[master["id"]] = master
                primary.changed[master["id"]] = next(self._seq)

    def _timed(self, instant: dt.datetime, zone: str) -> dict[str, str]:
        return {
            "dateTime": instant.astimezone(ZoneInfo(zone)).isoformat(),
            "timeZone": zone,
        }

    def _times(self, event: ScriptedEvent, zone: str) -> tuple[dict[str, str], dict[str, str]]:
        if event.all_day:
            return {"date": event.start.isoformat()}, {"date": event.end.isoformat()}
        assert isinstance(event.start, dt.datetime)
        assert isinstance(event.end, dt.datetime)
        return self._timed(event.start, zone), self._timed(event.end, zone)

    def _resource(self, event: ScriptedEvent, calendar: Calendar) -> dict[str, Any]:
        """A scenario event as a Calendar API `Event` resource."""
        event_id = _event_id(event)
        start, end = self._times(event, calendar.time_zone)
        stamp = _rfc3339(dt.datetime(2030, 2, 1, tzinfo=dt.UTC))
        resource: dict[str, Any] = {
            "kind": "calendar#event",
            "etag": '"3400000000000000"',
            "id": event_id,
            "status": "cancelled" if event.cancelled else "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": stamp,
            "updated": stamp,
            "summary": event.title,
            "creator": {"email": calendar.id, "self": True},
            "organizer": {"email": calendar.id, "self": True},
            "start": start,
            "end": end,
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        if event.response != "ORGANIZER":
            resource["creator"] = resource["organizer"] = {"email": ORGANIZER}
            resource["attendees"] = [
                {"email": ORGANIZER, "organizer": True, "responseStatus": "accepted"},
                {
                    "email": calendar.id,
                    "self": True,
                    "responseStatus": {
                        "ACCEPTED": "accepted",
                        "TENTATIVE": "tentative",
                        "DECLINED": "declined",
                        "NEEDS_ACTION": "needsAction",
                    }[event.response],
                },
            ]
        if event.show_as == "FREE":
            resource["transparency"] = "transparent"
        elif event.show_as == "OUT_OF_OFFICE":
            resource["eventType"] = "outOfOffice"
            resource["outOfOfficeProperties"] = {
                "autoDeclineMode": "declineOnlyNewConflictingInvitations",
                "declineMessage": "I am out of office.",
            }
        elif event.show_as == "WORKING_ELSEWHERE":
            # Working-location events are always transparent and public at Google.
            resource["eventType"] = "workingLocation"
            resource["transparency"] = "transparent"
            resource["visibility"] = "public"
            resource["workingLocationProperties"] = {"type": "homeOffice", "homeOffice": {}}
        if event.private:
            resource["visibility"] = "private"
        if event.series_id is not None:
            resource["recurringEventId"] = _series_id(event.series_id)
            resource["originalStartTime"] = dict(start)
            if event.cancelled:
                # A cancelled instance keeps only what identifies it.
                resource = {
                    key: resource[key]
                    for key in (
                        "kind",
                        "etag",
                        "id",
                        "status",
                        "recurringEventId",
                        "originalStartTime",
                    )
                }
        return resource

    def _master(self, first: ScriptedEvent, calendar: Calendar) -> dict[str, Any]:
        assert first.series_id is not None
        count = sum(1 for e in EVENTS if e.series_id == first.series_id)
        master = self._resource(
            ScriptedEvent(
                id=first.series_id,
                title=first.title,
                start=first.start,
                end=first.end,
                response=first.response,
                show_as=first.show_as,
            ),
            calendar,
        )
        master["id"] = _series_id(first.series_id)
        master["recurrence"] = [f"RRULE:FREQ=DAILY;COUNT={count}"]
        return master

    def live_channels(self) -> list[Channel]:
        with self._lock:
            return [c for c in self.channels.values() if self._live(c)]

    def _live(self, channel: Channel) -> bool:
        return not channel.stopped and channel.expires_at > self._clock

    def _notify(self, channel: Channel, state: str) -> None:
        channel.messages += 1
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": email.utils.formatdate(channel.expires_at, usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": f"{self.api_base_url}/calendars/"
            f"{quote(channel.calendar_id, safe='')}/events?alt=json",
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(channel.messages),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        self.notifier.send(channel.address, headers)

    def _touch(self, calendar: Calendar, resource: dict[str, Any]) -> None:
        for channel in self.channels.values():
            if channel.calendar_id == calendar.id and self._live(channel):
                self._notify(channel, "exists")
        seq = next(self._seq)
        calendar.changed[str(resource["id"])] = seq
        if resource.get("status") != "cancelled" or "updated" in resource:
            resource["updated"] = _rfc3339(
                dt.datetime(2030, 2, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seq)
            )
        resource["etag"] = f'"{3400000000000000 + seq}"'

    # -- dispatch ------------------------------------------------------------------------

    def _handle(self, request: Request) -> Answer:
        operation = _operation(request)
        with self._lock:
            fault = self._take_fault(operation)
            if fault is not None and fault.kind != "slow":
                answer = _fault_answer(fault)
            else:
                try:
                    answer = self._dispatch(operation, request)
                except _Refusal as refusal:
                    answer = refusal.answer
                if fault is not None:
                    answer.delay = fault.delay
            body: Any = request.form() if operation in _FORM_OPERATIONS else _json_or_none(request)
            self.requests.append(
                LoggedRequest(
                    operation,
                    request.method,
                    request.path,
                    dict(request.query),
                    body,
                    answer.status,
                    request.bearer,
                    _item_count(answer),
                )
            )
        return answer

    def _take_fault(self, operation: str) -> _Fault | None:
        for fault in self._faults:
            if fault.operation not in (None, operation):
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
            return fault
        return None

    def _dispatch(self, operation: str, request: Request) -> Answer:
        match operation:
            case "auth":
                return self._authorize(request)
            case "token":
                return self._token(request)
            case "revoke":
                return self._revoke(request)
            case "userinfo":
                return self._userinfo(request)
        if operation == "unknown":
            raise _Refusal(_api_error(404, "notFound", "Not Found"))
        self._authenticate(request)
        path = request.path[len(API_PREFIX) :]
        match operation:
            case "calendarList.list":
                return self._calendar_list(request)
            case "freeBusy.query":
                return self._free_busy(request)
            case "calendars.insert":
                return self._insert_calendar(request)
            case "channels.stop":
                return self._stop_channel(request)
        parts = [unquote(part) for part in path.split("/")[1:]]
        calendar = self._calendar(parts[1])
        match operation:
            case "events.list":
                return self._list_events(request, calendar)
            case "events.watch":
                return self._watch(request, calendar)
            case "events.insert":
                return self._insert_event(request, calendar)
            case "events.get":
                return self._get_event(calendar, parts[3])
            case "events.patch":
                return self._patch_event(request, calendar, parts[3])
            case "events.delete":
                return self._delete_event(request, calendar, parts[3])
        raise _Refusal(_api_error(404, "notFound", "Not Found"))

    # -- OAuth ---------------------------------------------------------------------------

    def _authorize(self, request: Request) -> Answer:
        query = request.query
        if query.get("client_id") != CLIENT_ID:
            return _error_page(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            return _error_page(400, "redirect_uri_mismatch", "Invalid redirect URI.")
        if query.get("response_type") != "code":
            return _error_page(400, "unsupported_response_type", "Unsupported response type.")
        method = query.get("code_challenge_method")
        challenge = query.get("code_challenge")
        if challenge is not None and method not in ("S256", "plain", None):
            return _error_page(400, "invalid_request", "Invalid code_challenge_method.")
        asked = tuple(SCOPE_ALIASES.get(s, s) for s in query.get("scope", "").split())
        if not asked:
            return _error_page(400, "invalid_request", "Missing required parameter: scope")
        state = {"state": query["state"]} if "state" in query else {}
        if self.consent == "deny":
            return _redirect(redirect_uri, {"error": "access_denied", **state})
        granted = asked if self.granted_scopes is None else self.granted_scopes
        code = self._new_secret("4/0A")
        self._codes[code] = _Code(
            CLIENT_ID,
            redirect_uri,
            challenge,
            method or ("plain" if challenge else None),
            tuple(granted),
            self._clock + CODE_SECONDS,
        )
        return _redirect(
            redirect_uri,
            {
                **state,
                "code": code,
                "scope": " ".join(granted),
                "authuser": "0",
                "prompt": "consent",
            },
        )

    def _token(self, request: Request) -> Answer:
        form = request.form()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            decoded = base64.b64decode(basic[6:]).decode()
            client_id, _, client_secret = decoded.partition(":")
        if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            return Answer(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        match form.get("grant_type"):
            case "authorization_code":
                return self._exchange_code(form)
            case "refresh_token":
                return self._refresh(form)
        return Answer(
            400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        )

    def _exchange_code(self, form: dict[str, str]) -> Answer:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used or code.expires_at < self._clock:
            return _invalid_grant("Malformed auth code.")
        if form.get("redirect_uri") != code.redirect_uri:
            return Answer(
                400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}
            )
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                return _invalid_grant("Missing code verifier.")
            if code.method == "S256":
                digest = hashlib.sha256(verifier.encode("ascii")).digest()
                computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            else:
                computed = verifier
            if computed != code.challenge:
                return _invalid_grant("Invalid code verifier.")
        code.used = True
        grant = _Grant(self._new_secret("1//0g"), code.scope)
        self._grants.append(grant)
        return Answer(
            200,
            {
                "access_token": self._issue_access(grant),
                "expires_in": ACCESS_TOKEN_SECONDS,
                "refresh_token": grant.refresh_token,
                "scope": " ".join(code.scope),
                "token_type": "Bearer",
                "id_token": self._id_token(),
            },
        )

    def _refresh(self, form: dict[str, str]) -> Answer:
        grant = self._grant_by_refresh(form.get("refresh_token", ""))
        if grant is None or grant.revoked:
            return _invalid_grant("Token has been expired or revoked.")
        return Answer(
            200,
            {
                "access_token": self._issue_access(grant),
                "expires_in": ACCESS_TOKEN_SECONDS,
                "scope": " ".join(grant.scope),
                "token_type": "Bearer",
            },
        )

    def _revoke(self, request: Request) -> Answer:
        token = request.form().get("token") or request.query.get("token", "")
        for grant in self._grants:
            if not grant.revoked and (token == grant.refresh_token or token in grant.access_tokens):
                grant.revoked = True
                return Answer(200, {})
        return Answer(
            400, {"error": "invalid_token", "error_description": "Token expired or revoked"}
        )

    def _userinfo(self, request: Request) -> Answer:
        grant = self._grant_by_access(request.bearer)
        if grant is None or ("openid" not in grant.scope and EMAIL_SCOPE not in grant.scope):
            return Answer(
                401,
                {"error": "invalid_request", "error_description": "Invalid Credentials"},
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        return Answer(
            200,
            {
                "sub": "110169484474386276334",
                "email": self.email,
                "email_verified": True,
                "name": "Ada Host",
                "picture": "https://lh3.googleusercontent.com/a/default-user",
            },
        )

    def _issue_access(self, grant: _Grant) -> str:
        token = self._new_secret("ya29.a0")
        grant.access_tokens[token] = self._clock + ACCESS_TOKEN_SECONDS
        return token

    def _new_secret(self, prefix: str) -> str:
        value = prefix + secrets.token_urlsafe(24)
        self._issued.append(value)
        return value

    def _grant_by_refresh(self, token: str) -> _Grant | None:
        return next((g for g in self._grants if g.refresh_token == token), None)

    def _grant_by_access(self, token: str | None) -> _Grant | None:
        if token is None:
            return None
        for grant in self._grants:
            expiry = grant.access_tokens.get(token)
            if expiry is not None and not grant.revoked and expiry > self._clock:
                return grant
        return None

    def _id_token(self) -> str:
        def part(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        claims = {
            "iss": "https://accounts.google.com",
            "aud": CLIENT_ID,
            "sub": "110169484474386276334",
            "email": self.email,
            "email_verified": True,
            "iat": int(self._clock),
            "exp": int(self._clock) + ACCESS_TOKEN_SECONDS,
        }
        return f"{part({'alg': 'RS256', 'kid': 'fake', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"

    # -- Calendar API --------------------------------------------------------------------

    def _authenticate(self, request: Request) -> None:
        grant = self._grant_by_access(request.bearer)
        if grant is None:
            raise _Refusal(
                _api_error(
                    401,
                    "authError",
                    "Invalid Credentials",
                    status="UNAUTHENTICATED",
                    extra={"locationType": "header", "location": "Authorization"},
                    headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
                )
            )
        if CALENDAR_SCOPE not in grant.scope:
            raise _Refusal(
                _api_error(
                    403,
                    "insufficientPermissions",
                    "Request had insufficient authentication scopes.",
                    status="PERMISSION_DENIED",
                )
            )

    def _calendar(self, calendar_id: str) -> Calendar:
        if calendar_id == "primary":
            calendar_id = self.email
        calendar = self.calendars.get(calendar_id)
        if calendar is None or calendar.deleted:
            raise _Refusal(_api_error(404, "notFound", "Not Found"))
        return calendar

    def _page(
        self, request: Request, items: list[dict[str, Any]], size: int, tail: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One page of `items`; `tail` (e.g. nextSyncToken) goes on the last page only."""
        token = request.query.get("pageToken")
        if token is not None:
            state = self._pages.get(token)
            if state is None:
                raise _Refusal(_api_error(400, "invalid", "Invalid page token value."))
            items, tail = state["items"], state["tail"]
        limit = min(size, int(request.query.get("maxResults") or 250))
        page, rest = items[:limit], items[limit:]
        if rest:
            next_token = "CkAK" + secrets.token_urlsafe(12)
            self._pages[next_token] = {"items": rest, "tail": tail}
            return page, {"nextPageToken": next_token}
        return page, tail

    def _calendar_list(self, request: Request) -> Answer:
        show_hidden = request.query.get("showHidden") == "true"
        entries = [
            c.entry()
            for c in self.calendars.values()
            if not c.deleted and (show_hidden or not c.hidden)
        ]
        page, extra = self._page(
            request,
            entries,
            self.calendar_page_size,
            {"nextSyncToken": "CPDAlvWDx70CEPDAlvWDx70CGAU="},
        )
        return Answer(
            200,
            {"kind": "calendar#calendarList", "etag": '"p33c9ff0bpp0g0g"', **extra, "items": page},
        )

    def _free_busy(self, request: Request) -> Answer:
        body = request.json() or {}
        try:
            start = _parse_instant(body["timeMin"])
            end = _parse_instant(body["timeMax"])
        except (KeyError, ValueError):
            raise _Refusal(_api_error(400, "badRequest", "Bad Request")) from None
        if end <= start:
            raise _Refusal(_api_error(400, "timeRangeEmpty", "The specified time range is empty."))
        if end - start > MAX_FREE_BUSY_SPAN:
            raise _Refusal(
                _api_error(400, "timeRangeTooLong", "The requested time range is too long.")
            )
        zone = body.get("timeZone") or "UTC"
        calendars: dict[str, Any] = {}
        for index, item in enumerate(body.get("items") or ()):
            calendar_id = str(item.get("id"))
            if index >= MAX_FREE_BUSY_CALENDARS:
                calendars[calendar_id] = _fb_error("tooManyCalendarsRequested")
                continue
            calendar = self.calendars.get(self.email if calendar_id == "primary" else calendar_id)
            if calendar is None or calendar.deleted:
                calendars[calendar_id] = _fb_error("notFound")
                continue
            spans = [
                _busy_span(resource, calendar.time_zone) for resource in calendar.events.values()
            ]
            clipped = _merge(
                [
                    (max(s, start), min(e, end))
                    for s, e in filter(None, spans)
                    if s < end and e > start
                ]
            )
            calendars[calendar_id] = {
                "busy": [{"start": _format(s, zone), "end": _format(e, zone)} for s, e in clipped]
            }
        return Answer(
            200,
            {
                "kind": "calendar#freeBusy",
                "timeMin": _format(start, zone),
                "timeMax": _format(end, zone),
                "calendars": calendars,
            },
        )

    def _list_events(self, request: Request, calendar: Calendar) -> Answer:
        query = request.query
        single = query.get("singleEvents") == "true"
        sync_token = query.get("syncToken")
        if "pageToken" in query:
            items: list[dict[str, Any]] = []
            tail: dict[str, Any] = {}
        elif sync_token is not None:
            if {"timeMin", "timeMax", "orderBy", "q", "updatedMin"} & set(query):
                raise _Refusal(
                    _api_error(400, "invalid", "Sync token cannot be used with these filters.")
                )
            known = self._sync_tokens.get(sync_token)
            if known is None or known[0] != calendar.id:
                raise _Refusal(
                    _api_error(
                        410,
                        "fullSyncRequired",
                        "Sync token is no longer valid, a full sync is required.",
                    )
                )
            since = known[1]
            items = [
                resource
                for resource in self._listed(calendar, single, deleted=True)
                if calendar.changed.get(str(resource["id"]), 0) > since
            ]
            tail = {"nextSyncToken": self._sync_token(calendar, single)}
        else:
            deleted = query.get("showDeleted") == "true"
            low = _parse_instant(query["timeMin"]) if "timeMin" in query else None
            high = _parse_instant(query["timeMax"]) if "timeMax" in query else None
            wanted = query.get("privateExtendedProperty")
            items = [
                resource
                for resource in self._listed(calendar, single, deleted=deleted)
                if _in_window(resource, calendar, low, high)
                and (wanted is None or self.loose_lookups or _carries(resource, wanted))
            ]
            tail = {"nextSyncToken": self._sync_token(calendar, single)}
        page, extra = self._page(request, items, self.events_page_size, tail)
        return Answer(
            200,
            {
                "kind": "calendar#events",
                "etag": '"p32kd1b8ssqvo00g"',
                "summary": calendar.summary,
                "updated": _rfc3339(dt.datetime(2030, 2, 2, tzinfo=dt.UTC)),
                "timeZone": calendar.time_zone,
                "accessRole": calendar.access_role,
                "defaultReminders": [],
                **extra,
                "items": [self._listed_item(resource) for resource in page],
            },
        )

    def _listed_item(self, resource: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = json.loads(json.dumps(resource))
        if item["id"] in self.unreadable and item.get("status") != "cancelled":
            item["start"] = {"timeZone": self.time_zone}
        return item

    def _listed(self, calendar: Calendar, single: bool, *, deleted: bool) -> list[dict[str, Any]]:
        """What a listing shows: instances with `singleEvents`, else masters plus their
        exceptions (cancelled instances) and single events."""
        if single:
            resources = list(calendar.events.values())
        else:
            resources = [
                r
                for r in calendar.events.values()
                if "recurringEventId" not in r or r.get("status") == "cancelled"
            ]
            resources += list(calendar.series.values())
        return [r for r in resources if deleted or r.get("status") != "cancelled"]

    def _sync_token(self, calendar: Calendar, single: bool) -> str:
        token = "CPi" + secrets.token_urlsafe(16)
        self._sync_tokens[token] = (calendar.id, max(calendar.changed.values(), default=0), single)
        return token

    def _require_writer(self, calendar: Calendar) -> None:
        if calendar.access_role not in ("owner", "writer"):
            raise _Refusal(
                _api_error(
                    403, "requiredAccessLevel", "You need to have writer access to this calendar."
                )
            )

    def _insert_event(self, request: Request, calendar: Calendar) -> Answer:
        self._require_writer(calendar)
        body = request.json() or {}
        if "start" not in body or "end" not in body:
            raise _Refusal(_api_error(400, "required", "Missing end time."))
        event_id = body.get("id")
        if event_id is not None:
            if not isinstance(event_id, str) or not BASE32HEX_ID.match(event_id):
                raise _Refusal(_api_error(400, "invalid", "Invalid resource id value."))
            if event_id in calendar.events:
                raise _Refusal(
                    _api_error(409, "duplicate", "The requested identifier already exists.")
                )
        else:
            event_id = secrets.token_hex(13)
        resource = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": _rfc3339(dt.datetime(2030, 2, 1, tzinfo=dt.UTC)),
            "creator": {"email": self.email, "self": True},
            "organizer": {"email": calendar.id, "self": True},
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
            **_event_fields(body, calendar),
        }
        calendar.events[event_id] = resource
        self._touch(calendar, resource)
        self.notifications.append(
            ("events.insert", event_id, request.query.get("sendUpdates", "false"))
        )
        return Answer(200, json.loads(json.dumps(resource)))

    def _get_event(self, calendar: Calendar, event_id: str) -> Answer:
        # Deleted events are still returned (status "cancelled"), as Google does.
        resource = calendar.events.get(event_id)
        if resource is None:
            raise _Refusal(_api_error(404, "notFound", "Not Found"))
        return Answer(200, json.loads(json.dumps(resource)))

    def _patch_event(self, request: Request, calendar: Calendar, event_id: str) -> Answer:
        self._require_writer(calendar)
        resource = calendar.events.get(event_id)
        if resource is None or resource.get("status") == "cancelled":
            raise _Refusal(_api_error(404, "notFound", "Not Found"))
        resource.update(_event_fields(request.json() or {}, calendar))
        resource["sequence"] = int(resource.get("sequence", 0)) + 1
        self._touch(calendar, resource)
        self.notifications.append(
            ("events.patch", event_id, request.query.get("sendUpdates", "false"))
        )
        return Answer(200, json.loads(json.dumps(resource)))

    def _delete_event(self, request: Request, calendar: Calendar, event_id: str) -> Answer:
        self._require_writer(calendar)
        resource = calendar.events.get(event_id)
        if resource is None:
            raise _Refusal(_api_error(404, "notFound", "Not Found"))
        if resource.get("status") == "cancelled":
            raise _Refusal(_api_error(410, "deleted", "Resource has been deleted"))
        resource["status"] = "cancelled"
        self._touch(calendar, resource)
        self.notifications.append(
            ("events.delete", event_id, request.query.get("sendUpdates", "false"))
        )
        return Answer(204)

    def _insert_calendar(self, request: Request) -> Answer:
        body = request.json() or {}
        if not body.get("summary"):
            raise _Refusal(_api_error(400, "required", "Missing title."))
        calendar_id = f"c_{secrets.token_hex(16)}@group.calendar.google.com"
        zone = str(body.get("timeZone") or self.time_zone)
        self.calendars[calendar_id] = Calendar(calendar_id, str(body["summary"]), zone, "owner")
        return Answer(
            200,
            {
                "kind": "calendar#calendar",
                "etag": '"Xs2ZUaY5xj8"',
                "id": calendar_id,
                "summary": body["summary"],
                "timeZone": zone,
                "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
            },
        )

    # -- push ----------------------------------------------------------------------------

    def _watch(self, request: Request, calendar: Calendar) -> Answer:
        body = _json_or_none(request)
        if not isinstance(body, dict):
            raise _Refusal(_api_error(400, "parseError", "Parse Error"))
        channel_id, address = body.get("id"), body.get("address")
        if body.get("type") not in ("web_hook", "webhook"):
            raise _Refusal(_api_error(400, "invalid", "Invalid value for: type"))
        if not isinstance(channel_id, str) or not CHANNEL_ID.fullmatch(channel_id):
            raise _Refusal(_api_error(400, "invalid", "Invalid channel id"))
        if not isinstance(address, str) or not address.startswith(
            ("https://", "http://127.0.0.1", "http://localhost")
        ):
            raise _Refusal(
                _api_error(400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS")
            )
        if channel_id in self.channels:
            raise _Refusal(_api_error(400, "channelIdNotUnique", "Channel id not unique"))
        ttl = float((body.get("params") or {}).get("ttl") or self.max_channel_seconds)
        channel = Channel(
            id=channel_id,
            resource_id=f"res-{hashlib.sha256(calendar.id.encode()).hexdigest()[:20]}",
            calendar_id=calendar.id,
            address=address,
            token=body.get("token"),
            expires_at=self._clock + min(ttl, self.max_channel_seconds),
        )
        self.channels[channel_id] = channel
        self._notify(channel, "sync")
        answer = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": f"{self.api_base_url}/calendars/{quote(calendar.id, safe='')}/events",
            "expiration": str(int(channel.expires_at * 1000)),
        }
        if channel.token is not None:
            answer["token"] = channel.token
        return Answer(200, answer)

    def _stop_channel(self, request: Request) -> Answer:
        body = _json_or_none(request)
        channel = self.channels.get(str(body.get("id"))) if isinstance(body, dict) else None
        if channel is None or channel.stopped or channel.resource_id != body.get("resourceId"):
            raise _Refusal(_api_error(404, "notFound", "Channel not found"))
        channel.stopped = True
        return Answer(204)


_FORM_OPERATIONS = frozenset({"token", "revoke"})


def _item_count(answer: Answer) -> int | None:
    if isinstance(answer.body, dict) and isinstance(answer.body.get("items"), list):
        return len(answer.body["items"])
    return None


class _Refusal(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _operation(request: Request) -> str:
    path, method = request.path, request.method
    if path == AUTH_PATH and method == "GET":
        return "auth"
    if path == TOKEN_PATH and method == "POST":
        return "token"
    if path == REVOKE_PATH and method == "POST":
        return "revoke"
    if path == USERINFO_PATH and method == "GET":
        return "userinfo"
    if not path.startswith(API_PREFIX + "/"):
        return "unknown"
    parts = path[len(API_PREFIX) :].split("/")[1:]
    routes = {
        ("GET", ("users", "me", "calendarList")): "calendarList.list",
        ("POST", ("freeBusy",)): "freeBusy.query",
        ("POST", ("calendars",)): "calendars.insert",
        ("POST", ("channels", "stop")): "channels.stop",
    }
    if (method, tuple(parts)) in routes:
        return routes[(method, tuple(parts))]
    if len(parts) == 3 and parts[0] == "calendars" and parts[2] == "events":
        return {"GET": "events.list", "POST": "events.insert"}.get(method, "unknown")
    if parts[0] == "calendars" and parts[2:] == ["events", "watch"] and method == "POST":
        return "events.watch"
    if len(parts) == 4 and parts[0] == "calendars" and parts[2] == "events":
        return {"GET": "events.get", "PATCH": "events.patch", "DELETE": "events.delete"}.get(
            method, "unknown"
        )
    return "unknown"


def _json_or_none(request: Request) -> Any:
    if not request.body:
        return None
    try:
        return request.json()
    except ValueError:
        return request.body.decode(errors="replace")


def _api_error(
    code: int,
    reason: str,
    message: str,
    *,
    status: str | None = None,
    extra: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """Google's JSON error envelope: `{"error": {"errors": [...], "code", "message"}}`."""
    error: dict[str, Any] = {
        "errors": [{"domain": "global", "reason": reason, "message": message, **(extra or {})}],
        "code": code,
        "message": message,
    }
    if status is not None:
        error["status"] = status
    return Answer(code, {"error": error}, headers=dict(headers or {}))


def _fault_answer(fault: _Fault) -> Answer:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    if fault.kind == "garbled":
        page = b"<html><body>Welcome to the proxy</body></html>"
        return Answer(200, page, headers={"Content-Type": "text/html; charset=utf-8"})
    if fault.kind == "429":
        answer = _api_error(
            429, "rateLimitExceeded", "Rate Limit Exceeded", status="RESOURCE_EXHAUSTED"
        )
    elif fault.kind == "403-rate":
        answer = _api_error(403, "rateLimitExceeded", "Rate Limit Exceeded")
    else:
        answer = _api_error(
            503, "backendError", "The service is currently unavailable.", status="UNAVAILABLE"
        )
    answer.headers.update(headers)
    return answer


def _error_page(status: int, error: str, description: str) -> Answer:
    """What Google's consent screen shows for a broken request: a page, not a redirect."""
    html = f"<html><body><h1>Error {status}: {error}</h1><p>{description}</p></body></html>"
    return Answer(status, html.encode(), headers={"Content-Type": "text/html; charset=utf-8"})


def _redirect(redirect_uri: str, params: dict[str, str]) -> Answer:
    parts = urlsplit(redirect_uri)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    location = parts._replace(query=urlencode(query, quote_via=quote)).geturl()
    return Answer(302, b"", headers={"Location": location})


def _invalid_grant(description: str) -> Answer:
    return Answer(400, {"error": "invalid_grant", "error_description": description})


def _fb_error(reason: str) -> dict[str, Any]:
    return {"errors": [{"domain": "global", "reason": reason}], "busy": []}


def _event_id(event: ScriptedEvent) -> str:
    if event.series_id is not None:
        assert isinstance(event.start, dt.datetime)
        return f"{_series_id(event.series_id)}_{event.start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
    return event.id.replace("-", "")


def _series_id(series: str) -> str:
    return series.replace("-", "")


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _format(value: dt.datetime, zone: str) -> str:
    if zone in ("UTC", "Etc/UTC", "GMT"):
        return _rfc3339(value)
    return value.astimezone(ZoneInfo(zone)).isoformat()


def _parse_instant(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("RFC 3339 needs an offset")
    return parsed.astimezone(dt.UTC)


def _span(resource: dict[str, Any], zone: str) -> tuple[dt.datetime, dt.datetime]:
    """An event's [start, end) in UTC; all-day dates are midnights of the calendar's zone."""

    def instant(value: dict[str, Any]) -> dt.datetime:
        if "date" in value:
            day = dt.date.fromisoformat(value["date"])
            return dt.datetime.combine(day, dt.time(), ZoneInfo(zone)).astimezone(dt.UTC)
        parsed = dt.datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(value.get("timeZone") or zone))
        return parsed.astimezone(dt.UTC)

    return instant(resource["start"]), instant(resource["end"])


def _busy_span(resource: dict[str, Any], zone: str) -> tuple[dt.datetime, dt.datetime] | None:
    """Google's free/busy view of one event: None when it leaves the time free (cancelled,
    transparent, or declined by the calendar's owner)."""
    if resource.get("status") == "cancelled" or resource.get("transparency") == "transparent":
        return None
    for attendee in resource.get("attendees") or ():
        if attendee.get("self") and attendee.get("responseStatus") == "declined":
            return None
    return _span(resource, zone)


def _merge(spans: list[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _in_window(
    resource: dict[str, Any], calendar: Calendar, low: dt.datetime | None, high: dt.datetime | None
) -> bool:
    """`timeMin` bounds the event's end, `timeMax` its start (both exclusive), as at Google.
    Cancelled instances are placed at their original start."""
    if "recurrence" in resource:
        return True  # a master is listed when any instance may fall in the window
    if "start" not in resource:
        original = resource["originalStartTime"]
        start, end = _span({"start": original, "end": original}, calendar.time_zone)
    else:
        start, end = _span(resource, calendar.time_zone)
    return (low is None or end > low) and (high is None or start < high)


def _carries(resource: dict[str, Any], wanted: str) -> bool:
    """Whether an event has the private extended property `name=value`."""
    name, _, value = wanted.partition("=")
    private = (resource.get("extendedProperties") or {}).get("private") or {}
    return private.get(name) == value


def _event_fields(body: dict[str, Any], calendar: Calendar) -> dict[str, Any]:
    """The writable fields of an insert or patch body, stored as Google stores them."""
    fields: dict[str, Any] = {}
    for key in (
        "summary",
        "description",
        "location",
        "transparency",
        "visibility",
        "extendedProperties",
    ):
        if key in body:
            fields[key] = body[key]
    for key in ("start", "end"):
        if key in body:
            value = dict(body[key])
            if "dateTime" in value:
                zone = value.get("timeZone") or calendar.time_zone
                parsed = dt.datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=ZoneInfo(zone))
                value = {
                    "dateTime": parsed.astimezone(ZoneInfo(zone)).isoformat(),
                    "timeZone": zone,
                }
            fields[key] = value
    if "attendees" in body:
        fields["attendees"] = [
            {
                "email": attendee["email"],
                **({"displayName": attendee["displayName"]} if "displayName" in attendee else {}),
                "responseStatus": "needsAction",
            }
            for attendee in body["attendees"]
        ]
    return fields
