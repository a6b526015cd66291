"""A protocol-level fake of the Microsoft identity platform (v2.0) and Microsoft Graph v1.0 for
one signed-in mailbox, served over HTTPS on loopback (msal refuses `http://` authorities).

The adapter is tested through msal's and httpx's real client code, so this fake speaks the
documented wire formats, not a Python API:

Identity platform, under `/{tenant}`:
- `/v2.0/.well-known/openid-configuration` with `authorization_endpoint`, `token_endpoint`,
  `issuer` (msal reads it first).
- `/oauth2/v2.0/authorize` plays the consent screen: it checks the client and redirect URI,
  requires PKCE (S256), and answers the redirect URI with `code` and `state`, or with
  `error=access_denied` / `error=consent_required` and an AADSTS description: as a 302 with a
  query, or, for `response_mode=form_post`, as Entra ID's page whose form auto-POSTs them.
- `/oauth2/v2.0/token` for `authorization_code` (one use, redirect URI and PKCE S256 verifier
  checked) and `refresh_token` grants; the client authenticates with Basic or form secret. It
  answers `token_type`, `scope`, `expires_in`, `ext_expires_in`, `access_token`,
  `refresh_token` (rotated on refresh), an unsigned `id_token` (msal decodes, never verifies,
  ID tokens it fetched itself; the nonce of the authorize request is echoed) and `client_info`
  (base64url `{"uid", "utid"}`) when asked with `client_info=1`. Revoked grants answer 400
  `invalid_grant` with AADSTS50173 and `error_codes`, as Entra ID does.

Graph, under `/v1.0` (bearer tokens issued above; expired or unknown ones get 401
`InvalidAuthenticationToken`):
- `/me`, `/me/mailboxSettings` (Windows zone name).
- `/me/calendars` (paged with `$top`/`$skip` and `@odata.nextLink`; `owner`, `canEdit`,
  `isDefaultCalendar`, which some tenants and API versions leave out: `omit_default_flag`),
  POST `/me/calendars` (409 `ErrorFolderExists` for a taken name), GET `/me/calendar` (the
  mailbox's default calendar, the documented way to find it).
- POST `/me/calendar/getSchedule`: `scheduleItems` and `availabilityView` per Graph's format,
  computed as Exchange's availability service does (cancelled and declined meetings left out),
  a per-schedule `error` for unknown mailboxes; more than 20 schedules or more than 62 days is
  400.
- `{calendar}/calendarView` (paged) and `{calendar}/calendarView/delta` (`@odata.nextLink` with
  `$skiptoken`, `@odata.deltaLink` with `$deltatoken`, `@removed` items, 410
  `SyncStateNotFound` for tokens it no longer knows), where `{calendar}` is `/me/calendar`,
  `/me/calendars/{id}` or `/users/{address}/calendar`.
- `{calendar}/events`: GET with a `singleValueExtendedProperties/Any(...)` filter (with
  `$select` and the property `$expand`ed; `loose_lookups` ignores the filter), POST
  (honouring `transactionId`: a repeated transaction returns the first event), PATCH and
  DELETE `{calendar}/events/{id}` (404 `ErrorItemNotFound`).
- Times honour `Prefer: outlook.timezone` (UTC by default, `dateTime` with 7 fractional
  digits); paging honours `Prefer: odata.maxpagesize`. All-day events are stored, as Exchange
  stores them, as midnights of the event's own zone, and are reported as those instants in the
  zone asked for.

It serves `tests.fakes.scenario.EVENTS` in Graph terms: `isAllDay`, `showAs`,
`responseStatus.response`, `isCancelled`, `sensitivity`, and the weekly 1:1 as occurrences of
a series (`type: occurrence`, `seriesMasterId`), its cancelled one an `exception` with
`isCancelled`, as an attendee's calendar keeps it.

Change notifications (learn.microsoft.com/graph/change-notifications-delivery-webhooks):
- POST `/subscriptions` for `me/events`, `me/calendars/{id}/events` or
  `users/{address}/events` with `changeType` from created/updated/deleted, `notificationUrl`,
  optional `lifecycleNotificationUrl`, `clientState` (at most 128 characters) and an
  `expirationDateTime` in the future and at most 10,080 minutes ahead (else 400). Before
  answering 201, the fake performs Graph's validation handshake: a POST to each URL with
  `?validationToken=...` that must answer 200 with the token as `text/plain` within 10
  seconds, or the subscription is refused (400 `ValidationError`). PATCH
  `/subscriptions/{id}` renews (the same limits), DELETE removes (204); unknown ids are 404.
- Each created, updated or deleted event of a watched calendar is POSTed to the
  `notificationUrl` as `{"value": [{subscriptionId, subscriptionExpirationDateTime,
  changeType, resource, resourceData, clientState, tenantId}]}`; `lifecycle(id, event)`
  sends a lifecycle notification (`reauthorizationRequired`, `missed`,
  `subscriptionRemoved`, which also drops the subscription) to the lifecycle URL. Deliveries
  go over real HTTP from a background thread (`notifier.deliveries`). As with the Google
  fake, loopback `http://` URLs are accepted, where Graph requires HTTPS.

Faults (`fail`): any status with `Retry-After` and an error code (429 throttling, 503 bursts),
for a number of requests or for good, and slow answers. At most 4 concurrent requests per
mailbox are allowed (more answer 429 `ApplicationThrottled`, Graph's MailboxConcurrency limit);
`peak_in_flight` records the most seen. Every request is logged in `requests`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import itertools
import json
import re
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import trustme

from tests.fakes.http import Answer
from tests.fakes.http import LoopbackServer
from tests.fakes.http import Request
from tests.fakes.push import Notifier
from tests.fakes.scenario import EVENTS
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import ScriptedEvent

CLIENT_ID = "9f0c2b1e-3d4a-4c5b-8e6f-7a8b9c0d1e2f"
CLIENT_SECRET = "fake-client-secret~value"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
USER_ID = "00000000-0000-0000-66f3-3332eca7ea81"
EMAIL = "ada@contoso.test"
MAX_SCHEDULES = 20
MAX_SCHEDULE_SPAN = dt.timedelta(days=62)
MAX_CONCURRENT = 4
MAX_SUBSCRIPTION_MINUTES = 10_080
MAX_CLIENT_STATE = 128

WINDOWS_ZONES = {
    "America/New_York": "Eastern Standard Time",
    "Europe/Paris": "Romance Standard Time",
    "Europe/London": "GMT Standard Time",
    "UTC": "UTC",
}
IANA_ZONES = {windows: iana for iana, windows in WINDOWS_ZONES.items()}

SHOW_AS = {
    "BUSY": "busy",
    "TENTATIVE": "tentative",
    "OUT_OF_OFFICE": "oof",
    "WORKING_ELSEWHERE": "workingElsewhere",
    "FREE": "free",
}
RESPONSES = {
    "ORGANIZER": "organizer",
    "ACCEPTED": "accepted",
    "TENTATIVE": "tentativelyAccepted",
    "DECLINED": "declined",
    "NEEDS_ACTION": "notResponded",
}
AVAILABILITY_DIGIT = {"free": "0", "tentative": "1", "busy": "2", "oof": "3"}
AVAILABILITY_DIGIT["workingElsewhere"] = "4"
DIGIT_RANK = "04123"  # which status wins a slot: oof > busy > tentative > elsewhere > free


def graph_id(kind: str, name: str) -> str:
    """Graph-like ids: URL-safe base64 with padding, never an "@"."""
    return "AAMk" + base64.urlsafe_b64encode(f"{kind}:{name}".encode()).decode()


@dataclass
class FakeCalendar:
    id: str
    name: str
    owner_name: str
    owner_address: str
    can_edit: bool = True
    is_default: bool = False


@dataclass
class FakeEvent:
    """An event as the mailbox stores it: UTC instants, all-day events as their own zone's
    midnights."""

    id: str
    calendar_id: str
    subject: str
    start: dt.datetime
    end: dt.datetime
    all_day: bool = False
    show_as: str = "busy"
    response: str = "organizer"
    cancelled: bool = False
    sensitivity: str = "normal"
    type: str = "singleInstance"
    series_master_id: str | None = None
    zone: str = "Eastern Standard Time"
    transaction_id: str | None = None
    extended: dict[str, str] = field(default_factory=dict)
    attendees: list[dict[str, Any]] = field(default_factory=list)
    body: str = ""
    location: str = ""
    changed_seq: int = 0


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any
    mailbox: str | None
    prefer: str
    items: int | None = None  # how many `value` items the answer carried (listings)


@dataclass
class Subscription:
    """A change-notification subscription as Graph keeps it."""

    id: str
    resource: str
    calendar_id: str
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires_at: dt.datetime

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": CLIENT_ID,
            "changeType": ",".join(sorted(self.change_types)),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": self.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
            "creatorId": USER_ID,
            "latestSupportedTlsVersion": "v1_2",
            "includeResourceData": False,
        }


@dataclass
class Fault:
    status: int
    path: str | None
    times: int | None
    retry_after: float | None
    code: str
    delay: float
    method: str | None = None


@dataclass
class DeltaRound:
    """What a delta or skip token stands for: the calendar and window of the round, the change
    sequence it started after, the ids reported so far, and (skip tokens) the page left."""

    calendar_id: str
    start: dt.datetime
    end: dt.datetime
    seq: int
    reported: set[str]
    pending: list[dict[str, Any]] = field(default_factory=list)


class FakeMicrosoft:
    """Identity platform + Graph for one mailbox; use as a context manager."""

    def __init__(self, *, ca: trustme.CA | None = None, page_size: int = 4) -> None:
        self.ca = ca or trustme.CA()
        self.email = EMAIL
        self.page_size = page_size
        self.consent = "allow"  # or "access_denied", "consent_required"
        self.access_token_lifetime = 3600
        self.mailbox_zone = "Eastern Standard Time"
        self.other_mailboxes: set[str] = set()
        # Calendar listings without `isDefaultCalendar` (the property is optional).
        self.omit_default_flag = False
        # Event ids answered with an unreadable `start` (an item the adapter cannot read).
        self.unreadable: set[str] = set()
        # Key look-ups (`$filter` on events) ignore their filter: every event of the calendar
        # comes back, as from a server that ignores or loosens an unsupported filter.
        self.loose_lookups = False
        self.requests: list[LoggedRequest] = []
        # (method, path) of Graph requests as they arrive, logged before answering
        self.arrivals: list[tuple[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.discovery_requests = 0
        self.peak_in_flight = 0
        self.delay = 0.0
        self._response_mode = "query"
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._in_flight: dict[str, int] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh_tokens: dict[str, bool] = {}  # token -> still valid
        self._access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._seq = itertools.count(1)
        self._tombstones: dict[str, tuple[str, int]] = {}  # event id -> (calendar, seq)
        self._delta_rounds: dict[str, DeltaRound] = {}
        self.calendars: list[FakeCalendar] = []
        self.events: dict[str, FakeEvent] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.notifier = Notifier()
        self._server: LoopbackServer | None = None
        self._reset_mailbox()

    # lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeMicrosoft:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = LoopbackServer(self._handle, ssl_context=context)
        self._server.start()
        self.notifier.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.stop()
        self.notifier.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return self._server.base_url

    @property
    def authority(self) -> str:
        return f"{self.base_url}/common"

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    def write_ca(self, path: Path) -> Path:
        self.ca.cert_pem.write_to_path(str(path))
        return path

    def reset(self) -> None:
        """Back to the scripted mailbox, no grants, no faults, an empty log."""
        with self._lock:
            self.consent = "allow"
            self.access_token_lifetime = 3600
            self.other_mailboxes = set()
            self.omit_default_flag = False
            self.loose_lookups = False
            self.requests = []
            self.arrivals = []
            self.token_requests = []
            self.peak_in_flight = 0
            self.delay = 0.0
            self._faults = []
            self._codes = {}
            self._refresh_tokens = {}
            self._access_tokens = {}
            self._delta_rounds = {}
            self._tombstones = {}
            self.subscriptions = {}
            self._reset_mailbox()

    def _reset_mailbox(self) -> None:
        self.primary_id = graph_id("calendar", "primary")
        self.calendars = [
            FakeCalendar(self.primary_id, "Calendar", "Ada Example", EMAIL, is_default=True),
            FakeCalendar(graph_id("calendar", "offsite"), "Team offsite", "Ada Example", EMAIL),
            FakeCalendar(
                graph_id("calendar", "birthdays"), "Birthdays", "Ada Example", EMAIL, False
            ),
            FakeCalendar(
                graph_id("calendar", "bob"), "Bob's calendar", "Bob", "bob@contoso.test", True
            ),
            FakeCalendar(
                graph_id("calendar", "carol"), "Carol's calendar", "Carol", "c@contoso.test", False
            ),
        ]
        self.events = {}
        for scripted in EVENTS:
            self.add_event(scripted)

    # scripting -------------------------------------------------------------------------

    def event_id(self, scripted_id: str) -> str:
        return graph_id("event", scripted_id)

    def add_event(self, scripted: ScriptedEvent, *, calendar_id: str | None = None) -> FakeEvent:
        zone = ZoneInfo(TIME_ZONE)
        if scripted.all_day:
            assert isinstance(scripted.start, dt.date)
            assert isinstance(scripted.end, dt.date)
            start = dt.datetime.combine(scripted.start, dt.time(), zone).astimezone(dt.UTC)
            end = dt.datetime.combine(scripted.end, dt.time(), zone).astimezone(dt.UTC)
        else:
            assert isinstance(scripted.start, dt.datetime)
            assert isinstance(scripted.end, dt.datetime)
            start, end = scripted.start, scripted.end
        series = scripted.series_id
        event = FakeEvent(
            id=self.event_id(scripted.id),
            calendar_id=calendar_id or self.primary_id,
            subject=scripted.title,
            start=start,
            end=end,
            all_day=scripted.all_day,
            show_as=SHOW_AS[scripted.show_as],
            response=RESPONSES[scripted.response],
            cancelled=scripted.cancelled,
            sensitivity="private" if scripted.private else "normal",
            type=("exception" if scripted.cancelled else "occurrence")
            if series
            else "singleInstance",
            series_master_id=graph_id("event", series) if series else None,
        )
        self._store(event)
        return event

    def move_event(self, event_id: str, start: dt.datetime, end: dt.datetime) -> None:
        with self._lock:
            event = self.events[event_id]
            event.start, event.end = start, end
            self._store(event)

    def remove_event(self, event_id: str) -> None:
        with self._lock:
            event = self.events.pop(event_id)
            self._tombstones[event_id] = (event.calendar_id, next(self._seq))
            self._changed(event, "deleted")

    def _store(self, event: FakeEvent) -> None:
        with self._lock:
            change = "updated" if event.id in self.events else "created"
            event.changed_seq = next(self._seq)
            self.events[event.id] = event
            self._tombstones.pop(event.id, None)
            self._changed(event, change)

    def lifecycle(self, subscription_id: str, event: str) -> None:
        """Send a lifecycle notification; `subscriptionRemoved` drops the subscription."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            if event == "subscriptionRemoved":
                del self.subscriptions[subscription_id]
            item = {
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": subscription.wire()["expirationDateTime"],
                "tenantId": TENANT_ID,
                "clientState": subscription.client_state,
                "lifecycleEvent": event,
            }
            url = subscription.lifecycle_url or subscription.notification_url
            self.notifier.send(url, {}, {"value": [item]})

    def _changed(self, event: FakeEvent, change: str) -> None:
        now = dt.datetime.now(dt.UTC)
        for subscription in self.subscriptions.values():
            if (
                subscription.calendar_id != event.calendar_id
                or change not in subscription.change_types
                or subscription.expires_at <= now
            ):
                continue
            path = f"Users/{USER_ID}/Events/{event.id}"
            item = {
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": subscription.wire()["expirationDateTime"],
                "changeType": change,
                "resource": path,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": path,
                    "@odata.etag": f'W/"{event.changed_seq}"',
                    "id": event.id,
                },
                "clientState": subscription.client_state,
                "tenantId": TENANT_ID,
            }
            self.notifier.send(subscription.notification_url, {}, {"value": [item]})

    def calendar_events(self, calendar_id: str) -> list[FakeEvent]:
        with self._lock:
            return [e for e in self.events.values() if e.calendar_id == calendar_id]

    def fail(
        self,
        status: int,
        *,
        path: str | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
        code: str = "ServiceUnavailable",
        delay: float = 0.0,
        method: str | None = None,
    ) -> None:
        """The next `times` Graph requests whose path contains `path` (None: any), sent with
        `method` (None: any), answer
        `status` with `Retry-After` (for good when `times` is None), `delay` seconds after
        the request was carried out. Status 200 with a delay only slows the answer."""
        with self._lock:
            self._faults.append(Fault(status, path, times, retry_after, code, delay, method))

    def fail_next(
        self,
        status: int,
        *,
        operation: str | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
        method: str | None = None,
    ) -> None:
        """The knob every provider fake shares (tests/helpers/harnesses.py): the next `times`
        Graph requests whose path contains `operation` answer `status` with Graph's error code
        for it (429 `TooManyRequests`, 503 `ServiceUnavailable`) and `Retry-After`."""
        code = {429: "TooManyRequests"}.get(status, "ServiceUnavailable")
        self.fail(
            status, path=operation, times=times, retry_after=retry_after, code=code, method=method
        )

    def hang(
        self,
        *,
        operation: str | None = None,
        times: int | None = None,
        seconds: float = 5.0,
        method: str | None = None,
    ) -> None:
        """The next `times` Graph requests (all when None) are carried out but answered only
        after `seconds`: a lost answer for a client whose timeout is shorter."""
        self.fail(200, path=operation, times=times, delay=seconds, method=method)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []

    def revoke_grants(self) -> None:
        """The user revoked the app's consent (or an admin did): refresh tokens stop working."""
        with self._lock:
            self._refresh_tokens = dict.fromkeys(self._refresh_tokens, False)

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access_tokens = dict.fromkeys(self._access_tokens, 0.0)

    def expire_delta_tokens(self) -> None:
        with self._lock:
            self._delta_rounds = {}

    def graph_requests(
        self, path_contains: str = "", method: str | None = None
    ) -> list[LoggedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if path_contains in r.path and (method is None or r.method == method)
            ]

    def issued_secrets(self) -> list[str]:
        """Every access and refresh token issued: none may appear in messages or dumps."""
        with self._lock:
            return [*self._access_tokens, *self._refresh_tokens]

    # dispatch ---------------------------------------------------------------------------

    def _handle(self, request: Request) -> Answer:
        segments = [unquote(s) for s in request.path.split("/") if s]
        if segments and segments[0] == "v1.0":
            return self._graph(request, segments[1:])
        if len(segments) >= 2:
            tail = "/".join(segments[1:])
            if tail == "v2.0/.well-known/openid-configuration":
                return self._openid_configuration(segments[0])
            if tail == "oauth2/v2.0/authorize":
                return self._authorize(request)
            if tail == "oauth2/v2.0/token" and request.method == "POST":
                return self._token(request)
        return Answer(404, {"error": "not_found"})

    # identity platform ------------------------------------------------------------------

    def _openid_configuration(self, tenant: str) -> Answer:
        with self._lock:
            self.discovery_requests += 1
        base = f"{self.base_url}/{tenant}"
        return Answer(
            200,
            {
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "issuer": f"{self.base_url}/{{tenantid}}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "code_challenge_methods_supported": ["plain", "S256"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            },
        )

    def _authorize(self, request: Request) -> Answer:
        query = request.query
        self._response_mode = query.get("response_mode", "query")
        redirect = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or not redirect:
            return Answer(400, b"AADSTS700016: Application not found in the directory.")
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            return self._redirect(
                redirect,
                error="invalid_request",
                state=query.get("state"),
                error_description="AADSTS9002325: Proof Key for Code Exchange is required.",
            )
        if self.consent != "allow":
            description = {
                "access_denied": "AADSTS65004: User declined to consent to access the app.",
                "consent_required": "AADSTS65001: The user or administrator has not consented.",
            }[self.consent]
            return self._redirect(
                redirect,
                error=self.consent,
                error_description=description,
                state=query.get("state"),
            )
        code = "0.AX" + secrets.token_urlsafe(48)
        with self._lock:
            self._codes[code] = {
                "redirect_uri": redirect,
                "challenge": query.get("code_challenge"),
                "scope": query.get("scope", ""),
                "nonce": query.get("nonce"),
                "expires": time.time() + 600,
            }
        return self._redirect(redirect, code=code, state=query.get("state"), session_state=USER_ID)

    def _redirect(self, url: str, **params: str | None) -> Answer:
        """The answer to the client: a 302 with the query (response_mode=query), or the
        page that auto-submits a form to the redirect URI (response_mode=form_post)."""
        values = {k: v for k, v in params.items() if v is not None}
        if self._response_mode == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}" />'
                for k, v in values.items()
            )
            page = (
                "<html><head><title>Working...</title></head><body>"
                f'<form method="POST" name="hiddenform" action="{html.escape(url)}">{fields}'
                "<noscript><p>Script is disabled. Click Submit to continue.</p>"
                '<input type="submit" value="Submit" /></noscript></form>'
                "<script>document.forms[0].submit();</script></body></html>"
            )
            return Answer(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
        separator = "&" if "?" in url else "?"
        return Answer(302, b"", {"Location": f"{url}{separator}{urlencode(values)}"})

    def _token(self, request: Request) -> Answer:
        form = request.form()
        with self._lock:
            self.token_requests.append(form)
        if not self._client_authenticated(request, form):
            return self._token_error(
                401, "invalid_client", 7000215, "Invalid client secret provided."
            )
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self._lock:
                issued = self._codes.pop(form.get("code", ""), None)
            if issued is None or issued["expires"] < time.time():
                return self._token_error(
                    400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed."
                )
            if issued["redirect_uri"] != form.get("redirect_uri"):
                return self._token_error(
                    400, "invalid_grant", 50011, "The redirect URI does not match."
                )
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if challenge.decode().rstrip("=") != issued["challenge"]:
                return self._token_error(
                    400,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge.",
                )
            return self._tokens(form, issued["scope"], issued["nonce"])
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            with self._lock:
                valid = self._refresh_tokens.get(token)
            if valid is None:
                return self._token_error(400, "invalid_grant", 9002313, "Invalid request.")
            if not valid:
                return self._token_error(
                    400,
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth "
                    "token is needed. The user might have changed or reset their password.",
                )
            return self._tokens(form, form.get("scope", ""), None)
        return self._token_error(400, "unsupported_grant_type", 70003, "Unsupported grant type.")

    @staticmethod
    def _client_authenticated(request: Request, form: dict[str, str]) -> bool:
        header = request.headers.get("authorization") or ""
        if header.lower().startswith("basic "):
            client, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return client == CLIENT_ID and secret == CLIENT_SECRET
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET

    @staticmethod
    def _token_error(status: int, error: str, code: int, text: str) -> Answer:
        return Answer(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {text} Trace ID: {secrets.token_hex(8)}",
                "error_codes": [code],
                "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
                "trace_id": secrets.token_hex(16),
                "correlation_id": secrets.token_hex(16),
            },
        )

    def _tokens(self, form: dict[str, str], scope: str, nonce: str | None) -> Answer:
        scopes = scope.split()
        access = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(40)
        refresh = "0.AXrefresh" + secrets.token_urlsafe(40)
        now = int(time.time())
        with self._lock:
            self._access_tokens[access] = time.time() + self.access_token_lifetime
            if "offline_access" in scopes:
                self._refresh_tokens[refresh] = True
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(s for s in scopes if s != "offline_access"),
            "expires_in": self.access_token_lifetime,
            "ext_expires_in": self.access_token_lifetime,
            "access_token": access,
        }
        if "offline_access" in scopes:
            body["refresh_token"] = refresh
        if "openid" in scopes:
            claims = {
                "aud": CLIENT_ID,
                "iss": f"{self.base_url}/{TENANT_ID}/v2.0",
                "iat": now,
                "nbf": now,
                "exp": now + 3600,
                "name": "Ada Example",
                "oid": USER_ID,
                "preferred_username": EMAIL,
                "email": EMAIL,
                "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
                "tid": TENANT_ID,
                "ver": "2.0",
            }
            if nonce:
                claims["nonce"] = nonce
            body["id_token"] = (
                ".".join(
                    _b64(json.dumps(part).encode())
                    for part in ({"typ": "JWT", "alg": "none"}, claims)
                )
                + "."
            )
        if form.get("client_info") == "1":
            body["client_info"] = _b64(json.dumps({"uid": USER_ID, "utid": TENANT_ID}).encode())
        return Answer(200, body)

    # Graph -------------------------------------------------------------------------------

    def _graph(self, request: Request, segments: list[str]) -> Answer:
        mailbox = self._target_mailbox(segments)
        with self._lock:
            self.arrivals.append((request.method, request.path))
            fault = self._take_fault(request.path, request.method)
            key = mailbox or "?"
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            in_flight = self._in_flight[key]
            self.peak_in_flight = max(self.peak_in_flight, in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if in_flight > MAX_CONCURRENT:
                answer = _graph_error(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    {"Retry-After": "1"},
                )
            elif fault is not None and fault.status != 200:
                headers = (
                    {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
                )
                answer = _graph_error(fault.status, fault.code, "Scripted failure.", headers)
            else:
                answer = self._graph_answer(request, segments)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)  # done, but answered late: the answer may be lost
        finally:
            with self._lock:
                self._in_flight[key] -= 1
        with self._lock:
            self.requests.append(
                LoggedRequest(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    status=answer.status,
                    body=request.json() if request.body else None,
                    mailbox=mailbox,
                    prefer=request.headers.get("prefer", ""),
                    items=len(answer.body["value"])
                    if isinstance(answer.body, dict) and isinstance(answer.body.get("value"), list)
                    else None,
                )
            )
        return answer

    def _take_fault(self, path: str, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method not in (None, method):
                continue
            if fault.path is None or fault.path in path:
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _target_mailbox(self, segments: list[str]) -> str | None:
        if segments[:1] == ["me"]:
            return self.email
        if segments[:1] == ["users"] and len(segments) > 1:
            return segments[1].lower()
        return None

    def _graph_answer(self, request: Request, segments: list[str]) -> Answer:
        token = request.bearer
        with self._lock:
            expiry = self._access_tokens.get(token or "")
        if expiry is None or expiry < time.time():
            return _graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
                {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
            )
        zone = _prefer_zone(request.headers.get("prefer", ""))
        method = request.method
        match segments:
            case ["me"] if method == "GET":
                return Answer(
                    200,
                    {
                        "@odata.context": f"{self.graph_url}/$metadata#users/$entity",
                        "id": USER_ID,
                        "displayName": "Ada Example",
                        "mail": EMAIL,
                        "userPrincipalName": EMAIL,
                    },
                )
            case ["me", "mailboxSettings"] if method == "GET":
                return Answer(200, {"timeZone": self.mailbox_zone, "language": {"locale": "en-US"}})
            case ["me", "calendars"] if method == "GET":
                return self._list_calendars(request)
            case ["me", "calendars"] if method == "POST":
                return self._create_calendar(request)
            case ["me", "calendar"] if method == "GET":
                return self._default_calendar()
            case ["me", "calendar", "getSchedule"] if method == "POST":
                return self._get_schedule(request, zone)
            case ["subscriptions"] if method == "POST":
                return self._subscribe(request)
            case ["subscriptions", subscription_id] if method in ("PATCH", "DELETE"):
                return self._subscription(request, subscription_id)
        calendar, rest = self._calendar_of(segments)
        if calendar is None:
            return _graph_error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        match rest:
            case ["calendarView"] if method == "GET":
                return self._calendar_view(request, calendar, zone)
            case ["calendarView", "delta"] if method == "GET":
                return self._delta(request, calendar, zone)
            case ["events"] if method == "GET":
                return self._find_events(request, calendar)
            case ["events"] if method == "POST":
                return self._create_event(request, calendar, zone)
            case ["events", event_id] if method in ("PATCH", "DELETE", "GET"):
                return self._one_event(request, calendar, event_id, zone)
        return _graph_error(400, "BadRequest", "Unsupported request.")

    def _calendar_of(self, segments: list[str]) -> tuple[FakeCalendar | None, list[str]]:
        if segments[:2] == ["me", "calendar"]:
            return self._calendar(self.primary_id), segments[2:]
        if segments[:2] == ["me", "calendars"] and len(segments) > 2:
            return self._calendar(segments[2]), segments[3:]
        own = segments[:1] == ["users"] and segments[1:2] == [self.email]
        if own and segments[2:3] == ["calendar"]:
            return self._calendar(self.primary_id), segments[3:]
        return None, []

    def _calendar(self, calendar_id: str) -> FakeCalendar | None:
        return next((c for c in self.calendars if c.id == calendar_id), None)

    # subscriptions -----------------------------------------------------------------------

    def _subscribe(self, request: Request) -> Answer:
        body = request.json()
        if not isinstance(body, dict):
            return _graph_error(400, "InvalidRequest", "Invalid request body.")
        changes = frozenset(str(body.get("changeType") or "").split(","))
        url, lifecycle_url = body.get("notificationUrl"), body.get("lifecycleNotificationUrl")
        client_state = body.get("clientState")
        calendar = self._subscribed_calendar(str(body.get("resource") or ""))
        if calendar is None:
            return _graph_error(404, "ResourceNotFound", "Resource not found for the segment.")
        if not changes or not changes <= {"created", "updated", "deleted"}:
            return _graph_error(400, "InvalidRequest", "Invalid changeType.")
        if not all(_callback_url(u) for u in (url, lifecycle_url or url)):
            return _graph_error(400, "InvalidRequest", "The notification URL must be HTTPS.")
        if client_state is not None and len(str(client_state)) > MAX_CLIENT_STATE:
            return _graph_error(400, "InvalidRequest", "clientState is too long.")
        expires = self._expiry(body)
        if expires is None:
            return _graph_error(400, "InvalidRequest", "Subscription expiration is out of range.")
        for target in dict.fromkeys((url, lifecycle_url or url)):
            if not self._validated(str(target)):
                return _graph_error(
                    400,
                    "ValidationError",
                    "Subscription validation request failed. Notification endpoint must "
                    "respond with 200 OK to validation request.",
                )
        subscription = Subscription(
            id=str(uuid.uuid4()),
            resource=str(body["resource"]),
            calendar_id=calendar.id,
            change_types=changes,
            notification_url=str(url),
            lifecycle_url=str(lifecycle_url) if lifecycle_url else None,
            client_state=str(client_state) if client_state is not None else None,
            expires_at=expires,
        )
        with self._lock:
            self.subscriptions[subscription.id] = subscription
        return Answer(201, subscription.wire())

    def _subscription(self, request: Request, subscription_id: str) -> Answer:
        with self._lock:
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None:
                return _graph_error(
                    404, "ResourceNotFound", "The object was not found.", {"request-id": "x"}
                )
            if request.method == "DELETE":
                del self.subscriptions[subscription_id]
                return Answer(204)
            expires = self._expiry(request.json() or {})
            if expires is None:
                return _graph_error(
                    400, "InvalidRequest", "Subscription expiration is out of range."
                )
            subscription.expires_at = expires
            return Answer(200, subscription.wire())

    @staticmethod
    def _expiry(body: dict[str, Any]) -> dt.datetime | None:
        try:
            expires = dt.datetime.fromisoformat(str(body.get("expirationDateTime")))
        except ValueError:
            return None
        now = dt.datetime.now(dt.UTC)
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        if not now < expires <= now + dt.timedelta(minutes=MAX_SUBSCRIPTION_MINUTES):
            return None
        return expires

    def _validated(self, url: str) -> bool:
        """Graph's handshake: the endpoint must echo the token as text/plain, 200, in 10 s."""
        token = f"Validation: Testing client application reachability {secrets.token_hex(8)}"
        answer = self.notifier.send_now(
            url, {"Content-Type": "text/plain; charset=utf-8"}, params={"validationToken": token}
        )
        return (
            answer is not None
            and answer.status_code == 200
            and answer.headers.get("content-type", "").startswith("text/plain")
            and answer.text == token
        )

    def _subscribed_calendar(self, resource: str) -> FakeCalendar | None:
        parts = [unquote(part) for part in resource.strip("/").split("/")]
        match parts:
            case ["me", "events"]:
                return self._calendar(self.primary_id)
            case ["me", "calendars", calendar_id, "events"]:
                return self._calendar(calendar_id)
            case ["users", address, "events"] if address.lower() == self.email:
                return self._calendar(self.primary_id)
        return None

    # calendars ---------------------------------------------------------------------------

    def _page(self, request: Request) -> tuple[int, int]:
        wanted = _prefer_page_size(request.headers.get("prefer", "")) or int(
            request.query.get("$top", "10")
        )
        return min(wanted, self.page_size), int(request.query.get("$skip", "0"))

    def _list_calendars(self, request: Request) -> Answer:
        size, skip = self._page(request)
        with self._lock:
            page = self.calendars[skip : skip + size]
            more = skip + size < len(self.calendars)
        body: dict[str, Any] = {
            "@odata.context": f"{self.graph_url}/$metadata#users('{USER_ID}')/calendars",
            "value": [self._calendar_resource(c) for c in page],
        }
        if more:
            body["@odata.nextLink"] = f"{self.graph_url}/me/calendars?" + urlencode(
                {"$top": size, "$skip": skip + size}
            )
        return Answer(200, body)

    def _calendar_resource(self, c: FakeCalendar) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "id": c.id,
            "name": c.name,
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": c.is_default,
            "changeKey": _b64(c.id.encode())[:16],
            "canShare": c.owner_address == self.email,
            "canViewPrivateItems": c.owner_address == self.email,
            "canEdit": c.can_edit,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": not c.is_default,
            "owner": {"name": c.owner_name, "address": c.owner_address},
        }
        if self.omit_default_flag:
            del resource["isDefaultCalendar"]
        return resource

    def _default_calendar(self) -> Answer:
        calendar = self._calendar(self.primary_id)
        assert calendar is not None
        return Answer(
            200,
            {
                "@odata.context": f"{self.graph_url}/$metadata#users('{USER_ID}')/calendar/$entity",
                **self._calendar_resource(calendar),
            },
        )

    def _create_calendar(self, request: Request) -> Answer:
        name = str(request.json().get("name") or "")
        with self._lock:
            if any(c.name == name for c in self.calendars):
                return _graph_error(
                    409, "ErrorFolderExists", "A folder with the specified name already exists."
                )
            calendar = FakeCalendar(graph_id("calendar", name), name, "Ada Example", self.email)
            self.calendars.append(calendar)
        return Answer(
            201,
            {
                "id": calendar.id,
                "name": name,
                "isDefaultCalendar": False,
                "canEdit": True,
                "owner": {"name": calendar.owner_name, "address": calendar.owner_address},
            },
        )

    # free/busy ---------------------------------------------------------------------------

    def _get_schedule(self, request: Request, zone: ZoneInfo) -> Answer:
        body = request.json()
        schedules = list(body.get("schedules") or [])
        start = _read_time(body["startTime"])
        end = _read_time(body["endTime"])
        interval = int(body.get("availabilityViewInterval") or 30)
        if len(schedules) > MAX_SCHEDULES:
            return _graph_error(400, "ErrorInvalidParameter", "Too many schedules in one request.")
        if end - start > MAX_SCHEDULE_SPAN or end <= start:
            return _graph_error(
                400, "ErrorInvalidParameter", "The time range must be at most 62 days."
            )
        value = []
        for address in schedules:
            lowered = address.lower()
            if lowered == self.email:
                events = [
                    e
                    for e in self.calendar_events(self.primary_id)
                    if not e.cancelled and e.response != "declined"
                ]
            elif lowered in self.other_mailboxes:
                events = []
            else:
                value.append(
                    {
                        "scheduleId": address,
                        "availabilityView": "",
                        "error": {
                            "message": "The user or group is not found in the directory.",
                            "responseCode": "ErrorMailRecipientNotFound",
                        },
                    }
                )
                continue
            overlapping = sorted(
                (e for e in events if e.start < end and e.end > start), key=lambda e: e.start
            )
            value.append(
                {
                    "scheduleId": address,
                    "availabilityView": _availability_view(overlapping, start, end, interval),
                    "scheduleItems": [
                        {
                            "isPrivate": e.sensitivity == "private",
                            "status": e.show_as,
                            **({} if e.sensitivity == "private" else {"subject": e.subject}),
                            "start": _wire_time(e.start, zone),
                            "end": _wire_time(e.end, zone),
                        }
                        for e in overlapping
                    ],
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": self.mailbox_zone},
                    },
                }
            )
        return Answer(
            200,
            {
                "@odata.context": f"{self.graph_url}/$metadata#Collection(scheduleInformation)",
                "value": value,
            },
        )

    # events ------------------------------------------------------------------------------

    def _wire_event(self, event: FakeEvent, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "@odata.etag": f'W/"{event.changed_seq}"',
            "id": event.id,
            "subject": event.subject,
            "bodyPreview": event.body[:255],
            "isAllDay": event.all_day,
            "isCancelled": event.cancelled,
            "isOrganizer": event.response == "organizer",
            "showAs": event.show_as,
            "sensitivity": event.sensitivity,
            "type": event.type,
            "seriesMasterId": event.series_master_id,
            "transactionId": event.transaction_id,
            "originalStartTimeZone": event.zone,
            "originalEndTimeZone": event.zone,
            "responseStatus": {"response": event.response, "time": "0001-01-01T00:00:00Z"},
            "start": {"dateTime": "", "timeZone": "UTC"}
            if event.id in self.unreadable
            else _wire_time(event.start, zone),
            "end": _wire_time(event.end, zone),
            "location": {"displayName": event.location},
            "attendees": event.attendees,
            "organizer": {"emailAddress": {"name": "Ada Example", "address": self.email}},
        }

    def _calendar_view(self, request: Request, calendar: FakeCalendar, zone: ZoneInfo) -> Answer:
        start = _parse_z(request.query["startDateTime"])
        end = _parse_z(request.query["endDateTime"])
        size, skip = self._page(request)
        matching = sorted(
            (e for e in self.calendar_events(calendar.id) if e.start < end and e.end > start),
            key=lambda e: (e.start, e.id),
        )
        body: dict[str, Any] = {
            "value": [self._wire_event(e, zone) for e in matching[skip : skip + size]]
        }
        if skip + size < len(matching):
            query = {**request.query, "$top": str(size), "$skip": str(skip + size)}
            body["@odata.nextLink"] = f"{self.base_url}{request.path}?{urlencode(query)}"
        return Answer(200, body)

    def _delta(self, request: Request, calendar: FakeCalendar, zone: ZoneInfo) -> Answer:
        query = request.query
        size = min(_prefer_page_size(request.headers.get("prefer", "")) or 10, self.page_size)
        with self._lock:
            if "$skiptoken" in query or "$deltatoken" in query:
                token = query.get("$skiptoken") or query.get("$deltatoken", "")
                round_ = self._delta_rounds.get(token)
                if round_ is None or round_.calendar_id != calendar.id:
                    return _graph_error(
                        410, "SyncStateNotFound", "The sync state generation is not found."
                    )
                if "$deltatoken" in query:
                    round_ = DeltaRound(
                        calendar.id, round_.start, round_.end, round_.seq, set(round_.reported)
                    )
                    round_.pending = self._changes_since(round_, zone)
            else:
                round_ = DeltaRound(
                    calendar.id,
                    _parse_z(query["startDateTime"]),
                    _parse_z(query["endDateTime"]),
                    0,
                    set(),
                )
                round_.pending = self._changes_since(round_, zone)
            page, rest = round_.pending[:size], round_.pending[size:]
            path = request.path
            if rest:
                skip = secrets.token_urlsafe(24)
                self._delta_rounds[skip] = DeltaRound(
                    calendar.id, round_.start, round_.end, round_.seq, round_.reported, rest
                )
                link = {
                    "@odata.nextLink": f"{self.base_url}{path}?{urlencode({'$skiptoken': skip})}"
                }
            else:
                delta = secrets.token_urlsafe(24)
                self._delta_rounds[delta] = DeltaRound(
                    calendar.id, round_.start, round_.end, self._current_seq(), round_.reported
                )
                link = {
                    "@odata.deltaLink": f"{self.base_url}{path}?{urlencode({'$deltatoken': delta})}"
                }
        return Answer(
            200,
            {
                "@odata.context": f"{self.graph_url}/$metadata#Collection(event)",
                "value": page,
                **link,
            },
        )

    def _current_seq(self) -> int:
        return next(self._seq)

    def _changes_since(self, round_: DeltaRound, zone: ZoneInfo) -> list[dict[str, Any]]:
        """Items changed after `round_.seq` in its calendar and window; events that left the
        window or were deleted after being reported come as `@removed`. Updates `reported`."""
        items: list[dict[str, Any]] = []
        for event in sorted(self.calendar_events(round_.calendar_id), key=lambda e: e.changed_seq):
            if event.changed_seq <= round_.seq:
                continue
            if event.start < round_.end and event.end > round_.start:
                items.append(self._wire_event(event, zone))
                round_.reported.add(event.id)
            elif event.id in round_.reported:
                items.append(_removed(event.id))
                round_.reported.discard(event.id)
        for event_id, (calendar_id, seq) in self._tombstones.items():
            if (
                calendar_id == round_.calendar_id
                and seq > round_.seq
                and event_id in round_.reported
            ):
                items.append(_removed(event_id))
                round_.reported.discard(event_id)
        return items

    def _find_events(self, request: Request, calendar: FakeCalendar) -> Answer:
        """The key look-up: a `singleValueExtendedProperties/Any(...)` filter, `$select` and
        `$expand=singleValueExtendedProperties($filter=id eq '...')` as Graph honours them;
        with `loose_lookups`, the filter is ignored and every event comes back."""
        match = re.fullmatch(
            r"singleValueExtendedProperties/Any\(ep: ep/id eq '(.+?)' and ep/value eq '(.*)'\)",
            request.query.get("$filter", ""),
        )
        if match is None:
            return _graph_error(400, "ErrorInvalidUrlQueryFilter", "Unsupported filter.")
        property_id, value = match.group(1), match.group(2).replace("''", "'")
        expand = re.fullmatch(
            r"singleValueExtendedProperties\(\$filter=id eq '(.+?)'\)",
            request.query.get("$expand", ""),
        )
        selected = [f for f in request.query.get("$select", "").split(",") if f]
        zone = ZoneInfo("UTC")
        found = []
        for event in self.calendar_events(calendar.id):
            if not self.loose_lookups and event.extended.get(property_id.lower()) != value:
                continue
            wire = self._wire_event(event, zone)
            item = {k: v for k, v in wire.items() if k == "id" or not selected or k in selected}
            if expand is not None:
                expanded = expand.group(1)
                item["singleValueExtendedProperties"] = (
                    [{"id": expanded, "value": event.extended[expanded.lower()]}]
                    if expanded.lower() in event.extended
                    else []
                )
            found.append(item)
        top = int(request.query.get("$top", "10"))
        return Answer(200, {"value": found[:top]})

    def _create_event(self, request: Request, calendar: FakeCalendar, zone: ZoneInfo) -> Answer:
        if not calendar.can_edit:
            return _graph_error(403, "ErrorAccessDenied", "Access is denied.")
        body = request.json()
        transaction = body.get("transactionId")
        with self._lock:
            if transaction:
                for existing in self.calendar_events(calendar.id):
                    if existing.transaction_id == transaction:
                        return Answer(201, self._wire_event(existing, zone))
            event = FakeEvent(
                id=graph_id("event", secrets.token_hex(8)),
                calendar_id=calendar.id,
                subject="",
                start=dt.datetime.now(dt.UTC),
                end=dt.datetime.now(dt.UTC),
                transaction_id=transaction,
                extended={
                    str(p["id"]).lower(): str(p["value"])
                    for p in body.get("singleValueExtendedProperties") or ()
                },
            )
            self._apply(event, body)
            self._store(event)
        return Answer(201, self._wire_event(event, zone))

    def _one_event(
        self, request: Request, calendar: FakeCalendar, event_id: str, zone: ZoneInfo
    ) -> Answer:
        with self._lock:
            event = self.events.get(event_id)
            if event is None or event.calendar_id != calendar.id:
                return _graph_error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            if request.method == "DELETE":
                self.remove_event(event_id)
                return Answer(204)
            if request.method == "PATCH":
                self._apply(event, request.json())
                self._store(event)
            return Answer(200, self._wire_event(event, zone))

    @staticmethod
    def _apply(event: FakeEvent, body: dict[str, Any]) -> None:
        if "subject" in body:
            event.subject = str(body["subject"])
        if "body" in body:
            event.body = str(body["body"].get("content") or "")
        if "start" in body:
            event.start = _read_time(body["start"])
            event.zone = str(body["start"].get("timeZone") or "UTC")
        if "end" in body:
            event.end = _read_time(body["end"])
        if "isAllDay" in body:
            event.all_day = bool(body["isAllDay"])
        if "showAs" in body:
            event.show_as = str(body["showAs"])
        if "location" in body:
            event.location = str((body["location"] or {}).get("displayName") or "")
        if "attendees" in body:
            event.attendees = [
                {**a, "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}}
                for a in body["attendees"]
            ]


# -- wire helpers ----------------------------------------------------------------------


def _callback_url(url: object) -> bool:
    return isinstance(url, str) and url.startswith(
        ("https://", "http://127.0.0.1", "http://localhost")
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _graph_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Answer:
    return Answer(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": secrets.token_hex(16),
                },
            }
        },
        dict(headers or {}),
    )


def _removed(event_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": event_id,
        "@removed": {"reason": "deleted"},
    }


def _zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(IANA_ZONES.get(name, name))


def _prefer_zone(prefer: str) -> ZoneInfo:
    match = re.search(r'outlook\.timezone="([^"]+)"', prefer)
    return _zone_named(match.group(1)) if match else ZoneInfo("UTC")


def _prefer_page_size(prefer: str) -> int | None:
    match = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    return int(match.group(1)) if match else None


def _wire_time(value: dt.datetime, zone: ZoneInfo) -> dict[str, str]:
    local = value.astimezone(zone)
    name = WINDOWS_ZONES.get(str(zone.key), str(zone.key))
    return {
        "dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        "timeZone": "UTC" if name == "UTC" else name,
    }


def _read_time(value: dict[str, str]) -> dt.datetime:
    naive = dt.datetime.fromisoformat(value["dateTime"][:19])
    return naive.replace(tzinfo=_zone_named(value.get("timeZone") or "UTC")).astimezone(dt.UTC)


def _parse_z(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _availability_view(
    events: list[FakeEvent], start: dt.datetime, end: dt.datetime, minutes: int
) -> str:
    step = dt.timedelta(minutes=minutes)
    digits = []
    slot = start
    while slot < end:
        stop = slot + step
        best = "0"
        for event in events:
            if event.start < stop and event.end > slot:
                digit = AVAILABILITY_DIGIT.get(event.show_as, "2")
                if DIGIT_RANK.index(digit) > DIGIT_RANK.index(best):
                    best = digit
        digits.append(best)
        slot = stop
    return "".join(digits)


def mailbox_addresses(count: int) -> list[str]:
    return [f"room{index:03d}@contoso.test" for index in range(count)]


def iter_secrets(fake: FakeMicrosoft) -> Iterator[str]:
    yield CLIENT_SECRET
    yield from fake.issued_secrets()


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values.get("value", "")


def consent_form(answer: httpx.Response) -> tuple[str, dict[str, str]]:
    """What a browser does with the consent screen's form_post page: the form's target and
    the fields it POSTs there."""
    assert answer.status_code == 200, answer.status_code
    reader = _FormReader()
    reader.feed(answer.text)
    return reader.action, reader.fields
