"""Microsoft 365 adapter: the consent flow and token refresh with msal (S1), and the
`CalendarClient` over Microsoft Graph v1.0 with httpx.

Sign-in. msal's `ConfidentialClientApplication` runs the authorization-code flow with state,
PKCE and nonce (`initiate_auth_code_flow` / `acquire_token_by_auth_code_flow`), with
`response_mode=form_post`: the callback receives the code in a POSTed form, never in a URL.
The flow dict is kept encrypted by the connection use case until the callback.
Scopes: Calendars.ReadWrite (S1, S20), User.Read (the account's address),
MailboxSettings.Read (the mailbox's time zone, in which all-day events block their dates, C4)
and email; msal adds openid, profile and offline_access itself. The stored secret is msal's
`SerializableTokenCache`, serialized, with the account's home id: refreshing is
`acquire_token_silent_with_error` (forced after a 401), and the cache is stored again
whenever msal changed it (a refresh rotates the refresh token).
`invalid_grant` / `interaction_required` (AADSTS50173 revoked, 700082 and 70008 expired, 50076
MFA now required, 65001 consent withdrawn ...) mean the grant is gone: `AccessRevoked`, which
the credential store turns into ACCESS_LOST (S13, C2). A refused client secret is the
operator's problem, never the user's: it is a plain `ProviderError`.

msal is synchronous (requests): every msal call runs in a worker thread under a capacity limiter
with an overall deadline. msal fetches the authority's openid-configuration when an application
object is built; the first answer is kept (msal's documented `http_cache`) and each later
application starts from a copy of it, so building one per call (one token cache per user, no
shared mutable state between threads) costs no network round trip. `requests` is given its own
session with `trust_env=False` (so `REQUESTS_CA_BUNDLE` cannot replace the CA bundle) and
`verify` set to the configured bundle.

Revocation. Microsoft offers no per-grant revocation for delegated tokens (only
`revokeSignInSessions`, which signs the user out of every application): `revoke` has nothing to
call. The use case deletes the credential row, and with it the only copy of the refresh token;
the user can remove the app's consent at https://myapps.microsoft.com.

Calendars and identifiers. The mailbox's default calendar has the mailbox address as its remote
id (what getSchedule takes, stable across Graph's id re-encodings); every other calendar keeps
its Graph id (base64, never containing "@"). Access: the account's own calendars are OWNER,
shared ones WRITER with `canEdit`, else READER.

Free/busy. Mailbox addresses go through `getSchedule` (the mailbox's default calendar, computed
by Exchange: cancelled and declined meetings already left out), in requests of at most 20
schedules and 62 days, run concurrently; each `scheduleItem` status is mapped by C4 (`unknown`
counts as busy), and a per-schedule `error` is `CalendarGone` for unknown or hidden mailboxes,
else an error for that calendar, never free time. Other calendars are invisible to getSchedule,
so their busy time comes from a paged `calendarView` through `slotgraph.providers.busy`.

Sync (`list_changes`). calendarView delta: the first call lists the window; `@odata.nextLink`
pages come back as `next_page`, the final `@odata.deltaLink` is the cursor; `@removed` items
are removed ids. Graph reports occurrences and exceptions of series one by one, so no series
special case is needed. 410 Gone (or a sync-state error code) is `CursorExpired`. The window is
fixed by the round's first call: a caller whose window moved starts a full listing. Cursors and
pages are Graph URLs and are followed only when they point at the configured Graph base URL, so
a bearer token is never sent elsewhere.

Times. Every request asks `Prefer: outlook.timezone="UTC"`. All-day events carry midnights in
some zone: a midnight is taken as its date; an instant that is not a midnight is read in the
event's own zone (`originalStartTimeZone`, Windows or IANA name; else the mailbox zone).

Writes. Creates carry Graph's `transactionId` (Graph drops a retried POST of the same
transaction) and the key in a single-value extended property, looked up before creating, so a
create retried later (an outbox retry) lands once too. Graph invites every attendee of an event
it creates or changes and offers no switch: `send_invitations=False` writes the event without
attendees. Deleting a gone event is not an error.

Limits. Graph allows 4 concurrent requests per mailbox: every request holds the mailbox's
semaphore, shared by all clients of that mailbox in the process. 429/503/504 (with Retry-After)
are retried by `with_retries`; a 401 forces one token refresh, a second 401 is `AccessRevoked`;
404/403 on one calendar is `CalendarGone`. Messages never quote a token or a response body.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
import httpx
import msal  # type: ignore[import-untyped]
import requests
import structlog
from exchangelib.winzone import (  # type: ignore[import-untyped]
    IANA_TO_MS_TIMEZONE_MAP,
    MS_TIMEZONE_TO_IANA_MAP,
)

from slotgraph.providers.base import (
    Access,
    AccessRevoked,
    CalendarGone,
    ChangeSet,
    CursorExpired,
    EventDraft,
    EventGone,
    EventStatus,
    FreeBusy,
    Interval,
    OAuthDenied,
    OAuthStateInvalid,
    ProviderError,
    RemoteCalendarInfo,
    RemoteEvent,
    Response,
    ShowAs,
    TokenSource,
    TransientError,
    Watch,
    chunked,
    windows,
)
from slotgraph.providers.busy import busy_interval, merge_spans
from slotgraph.providers.registry import OAuthGrant
from slotgraph.providers.rest import server_failure, throttled, transport_failure
from slotgraph.providers.retry import PATIENT, RetryPolicy, with_retries

T = TypeVar("T")

log = structlog.get_logger("slotgraph.microsoft")

PROVIDER: Final = "Microsoft 365"
SCOPES: Final = ("Calendars.ReadWrite", "User.Read", "MailboxSettings.Read", "email")
SCHEDULE_MAX_MAILBOXES: Final = 20
SCHEDULE_MAX_SPAN: Final = dt.timedelta(days=62)
MAX_CONCURRENT_PER_MAILBOX: Final = 4
PAGE_SIZE: Final = 100
# Graph's maximum subscription lifetime for Outlook resources is 10,080 minutes; stay a
# little below it so clock skew cannot make Graph refuse the expiry.
MAX_SUBSCRIPTION_TTL: Final = dt.timedelta(minutes=10_080) - dt.timedelta(hours=1)
SECRET_VERSION: Final = 1
# Slotgraph's idempotency key, in the same MAPI property set the Exchange adapter uses, so an
# event written over EWS is recognised over Graph too.
KEY_PROPERTY: Final = "String {5107a9a0-7c1e-4d4b-9a57-8f2d3c6e1b11} Name SlotgraphIdempotencyKey"
DISCOVERY_LIFETIME: Final = 12 * 3600.0
THREAD_DEADLINE_FACTOR: Final = 3

REVOKED_MESSAGE: Final = (
    "Microsoft 365 no longer grants Slotgraph access to this calendar (the grant was revoked "
    "or expired); reconnect the calendar."
)
_SYNC_STATE_CODES: Final = frozenset(
    {"syncstatenotfound", "syncstateinvalid", "resyncrequired", "errorinvalidsyncstatedata"}
)
_GONE_SCHEDULE_CODES: Final = frozenset(
    {
        "errormailrecipientnotfound",
        "errorinvaliduserorgroup",
        "errornonexistentmailbox",
        "errornofreebusyaccess",
        "erroraccessdenied",
    }
)
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.]{1,80}$")
_FRACTION = re.compile(r"(\.\d{6})\d+")

_MAILBOX_GATES: weakref.WeakValueDictionary[str, asyncio.Semaphore] = weakref.WeakValueDictionary()
_GATES_LOCK = threading.Lock()


def mailbox_gate(mailbox: str) -> asyncio.Semaphore:
    """The process-wide semaphore of one mailbox (Graph: at most 4 concurrent requests per
    mailbox and application). Kept while some client holds it."""
    key = mailbox.lower()
    with _GATES_LOCK:
        gate = _MAILBOX_GATES.get(key)
        if gate is None:
            gate = asyncio.Semaphore(MAX_CONCURRENT_PER_MAILBOX)
            _MAILBOX_GATES[key] = gate
        return gate


# -- sign-in (msal) ----------------------------------------------------------------------


class _Session(requests.Session):
    """requests for msal: no environment (REQUESTS_CA_BUNDLE would override `verify`), our CA
    bundle, and a timeout on every request (requests has no session-wide timeout)."""

    def __init__(self, *, verify: str | bool, timeout: float) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = verify
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        verb = method.decode() if isinstance(method, bytes) else method
        return super().request(verb, url, *args, **kwargs)


class MicrosoftOAuth:
    """The registry's `OAuthProvider` for Microsoft 365 (msal for sign-in, Graph for data)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        authority: str,
        graph_base_url: str,
        http: httpx.AsyncClient,
        timeout: float,
        ca_bundle: Path | None = None,
        max_threads: int = 8,
        retry: RetryPolicy = PATIENT,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._authority = authority.rstrip("/")
        self._graph = graph_base_url.rstrip("/")
        self._http = http
        self._timeout = timeout
        self._retry = retry
        self._session = _Session(
            verify=str(ca_bundle) if ca_bundle is not None else True, timeout=timeout
        )
        self._max_threads = max_threads
        self._limiter: anyio.CapacityLimiter | None = None
        self._discovery: dict[str, Any] = {}
        self._discovered_at: float | None = None
        self._discovery_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MicrosoftOAuth(client_id={self._client_id!r}, authority={self._authority!r})"

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        # Made lazily: a limiter belongs to the event loop it is first used in.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._max_threads)
        return self._limiter

    # OAuthProvider ----------------------------------------------------------------------

    async def start(self, redirect_uri: str, state: str) -> tuple[str, dict[str, Any]]:
        def work() -> dict[str, Any]:
            flow: dict[str, Any] = self._app(None).initiate_auth_code_flow(
                list(SCOPES),
                redirect_uri=redirect_uri,
                state=state,
                prompt="select_account",
                # The answer comes back POSTed, so the code never sits in a URL (RFC 9700).
                response_mode="form_post",
            )
            return flow

        flow = await self._in_thread(work)
        return str(flow["auth_uri"]), flow

    async def finish(
        self, flow: dict[str, Any], params: Mapping[str, str], redirect_uri: str
    ) -> OAuthGrant:
        if flow.get("redirect_uri") != redirect_uri:
            raise OAuthStateInvalid("The sign-in answer came back to another address.")

        def work() -> tuple[dict[str, Any], str]:
            cache = msal.SerializableTokenCache()
            app = self._app(cache)
            try:
                result = app.acquire_token_by_auth_code_flow(dict(flow), dict(params))
            except (ValueError, RuntimeError):  # state or nonce mismatch, malformed answer
                raise OAuthStateInvalid("The sign-in answer does not match the flow.") from None
            if "error" in result:
                raise _code_error(result)
            accounts = app.get_accounts()
            if not accounts:
                raise ProviderError("Microsoft sign-in returned no account.")
            secret = {
                "v": SECRET_VERSION,
                "home_account_id": accounts[0]["home_account_id"],
                "token_cache": cache.serialize(),
            }
            claims = result.get("id_token_claims") or {}
            fallback = str(claims.get("email") or claims.get("preferred_username") or "")
            return {**secret, "_access_token": result["access_token"]}, fallback

        secret, fallback = await self._in_thread(work)
        access = secret.pop("_access_token")
        email = await self._mailbox_address(access) or fallback
        if not email:
            raise ProviderError("Microsoft 365 did not say which mailbox signed in.")
        return OAuthGrant(account_email=email, secret={**secret, "account_email": email})

    async def access_token(
        self, secret: dict[str, Any], *, force: bool
    ) -> tuple[str, dict[str, Any] | None]:
        def work() -> tuple[str, dict[str, Any] | None]:
            cache = msal.SerializableTokenCache()
            cache.deserialize(secret.get("token_cache"))
            app = self._app(cache)
            home = secret.get("home_account_id")
            account = next((a for a in app.get_accounts() if a["home_account_id"] == home), None)
            if account is None:
                raise AccessRevoked(REVOKED_MESSAGE)
            result = app.acquire_token_silent_with_error(list(SCOPES), account, force_refresh=force)
            if not result:  # no refresh token left in the cache
                raise AccessRevoked(REVOKED_MESSAGE)
            if "error" in result:
                raise _refresh_error(result)
            renewed = (
                {**secret, "token_cache": cache.serialize()} if cache.has_state_changed else None
            )
            return str(result["access_token"]), renewed

        return await self._in_thread(work)

    async def revoke(self, secret: dict[str, Any]) -> None:
        """Nothing to call: Microsoft has no per-grant revocation for delegated tokens (see the
        module docstring). Dropping the stored token cache, which the use case does by deleting
        the credential, is what ends Slotgraph's access."""
        log.info("microsoft grant dropped; no revocation endpoint exists")

    def client(self, tokens: TokenSource, account_email: str) -> MicrosoftCalendarClient:
        return MicrosoftCalendarClient(
            self._http,
            tokens,
            account_email=account_email,
            base_url=self._graph,
            timeout=self._timeout,
            retry=self._retry,
        )

    # plumbing ---------------------------------------------------------------------------

    def _app(self, cache: Any) -> Any:
        """A msal application over `cache`, starting from the kept openid-configuration."""
        with self._discovery_lock:
            fresh = (
                self._discovered_at is not None
                and time.monotonic() - self._discovered_at < DISCOVERY_LIFETIME
            )
            http_cache = copy.deepcopy(self._discovery) if fresh else {}
        app = msal.ConfidentialClientApplication(
            self._client_id,
            client_credential=self._client_secret,
            authority=self._authority,
            validate_authority=False,
            instance_discovery=False,
            http_client=self._session,
            http_cache=http_cache,
            token_cache=cache,
        )
        if not fresh:
            with self._discovery_lock:
                self._discovery = copy.deepcopy(http_cache)
                self._discovered_at = time.monotonic()
        return app

    async def _in_thread(self, work: Callable[[], T]) -> T:
        """`work()` in a worker thread under the limiter; failures become ProviderErrors and a
        call outliving the deadline is abandoned (its thread ends on its own timeouts)."""

        def run() -> T:
            try:
                return work()
            except ProviderError:
                raise
            except requests.RequestException:
                raise TransientError(
                    "Microsoft sign-in could not be reached; try again shortly."
                ) from None
            except msal.exceptions.MsalServiceError:  # 5xx from the token endpoint
                raise TransientError(
                    "Microsoft sign-in had a temporary problem; try again shortly."
                ) from None
            except ValueError:  # msal: the authority's configuration could not be read
                raise ProviderError(
                    "Microsoft sign-in is not configured correctly on this server."
                ) from None

        try:
            with anyio.fail_after(self._timeout * THREAD_DEADLINE_FACTOR):
                return await anyio.to_thread.run_sync(
                    run, limiter=self.limiter, abandon_on_cancel=True
                )
        except TimeoutError:
            raise TransientError("Microsoft sign-in did not answer in time; try again.") from None

    async def _mailbox_address(self, access_token: str) -> str | None:
        try:
            response = await self._http.get(
                f"{self._graph}/me",
                params={"$select": "mail,userPrincipalName"},
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=self._timeout,
            )
        except httpx.TransportError as exc:
            raise transport_failure(PROVIDER, exc) from None
        if response.status_code != 200:
            raise _status_error(response, calendar_id=None, missing="calendar")
        me = response.json()
        address = me.get("mail") or me.get("userPrincipalName")
        return str(address) if address else None


def _oauth_code(result: Mapping[str, Any]) -> str:
    error = str(result.get("error") or "")
    return error if _SAFE_CODE.match(error) else "unknown"


def _refresh_error(result: Mapping[str, Any]) -> ProviderError:
    """A failed refresh. Only an answer about the grant itself means the user lost access."""
    error = _oauth_code(result)
    log.info("microsoft token refresh refused", error=error, codes=result.get("error_codes"))
    if error in ("invalid_grant", "interaction_required", "consent_required"):
        return AccessRevoked(REVOKED_MESSAGE)
    if error in ("temporarily_unavailable", "server_error"):
        return TransientError("Microsoft sign-in had a temporary problem; try again shortly.")
    if error in ("invalid_client", "unauthorized_client"):
        return ProviderError(
            "Microsoft refused Slotgraph's app credentials; the operator must check the "
            "Microsoft client id and secret."
        )
    return ProviderError(f"Microsoft sign-in refused the token request ({error}).")


def _code_error(result: Mapping[str, Any]) -> ProviderError:
    """A failed consent or code redemption at the callback."""
    error = _oauth_code(result)
    if error in ("access_denied", "consent_required", "interaction_required"):
        return OAuthDenied("Access was not granted at Microsoft's consent screen.")
    if error == "invalid_grant":  # the code expired, was used, or PKCE failed
        return OAuthStateInvalid("The sign-in code is no longer valid.")
    return _refresh_error(result)


# -- the calendar client -----------------------------------------------------------------


Missing = Literal["calendar", "event"]


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
        self._http = http
        self._tokens = tokens
        self._email = account_email
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._retry = retry
        self._gate = mailbox_gate(account_email)
        self._access: str | None = None
        self._token_lock = asyncio.Lock()
        self._time_zone = time_zone

    def __repr__(self) -> str:
        return f"MicrosoftCalendarClient(account_email={self._email!r})"

    # CalendarClient ---------------------------------------------------------------------

    async def list_calendars(self) -> list[RemoteCalendarInfo]:
        zone = await self._zone()
        calendars: list[RemoteCalendarInfo] = []
        async for item in self._items(f"{self._base}/me/calendars", {"$top": str(PAGE_SIZE)}):
            default = bool(item.get("isDefaultCalendar"))
            owner = str((item.get("owner") or {}).get("address") or "").lower()
            own = default or owner == self._email.lower()
            access = (
                Access.OWNER if own else Access.WRITER if item.get("canEdit") else Access.READER
            )
            calendars.append(
                RemoteCalendarInfo(
                    remote_id=self._email if default else str(item["id"]),
                    name=str(item.get("name") or "Calendar"),
                    time_zone=zone,
                    access=access,
                    is_primary=default,
                )
            )
        return sorted(calendars, key=lambda c: not c.is_primary)

    async def free_busy(
        self, calendar_ids: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> FreeBusy:
        ids = list(dict.fromkeys(calendar_ids))
        mailboxes = [c for c in ids if _is_mailbox(c)]
        busy: dict[str, list[Interval]] = {c: [] for c in ids}
        errors: dict[str, ProviderError] = {}
        requests_ = [
            self._schedule(list(chunk), window)
            for chunk in chunked(mailboxes, SCHEDULE_MAX_MAILBOXES)
            for window in windows(start, end, SCHEDULE_MAX_SPAN)
        ]
        for answers in await asyncio.gather(*requests_):
            for calendar_id, answer in answers.items():
                if isinstance(answer, ProviderError):
                    errors.setdefault(calendar_id, answer)
                elif calendar_id in busy:
                    busy[calendar_id].extend(answer)
        others = [c for c in ids if not _is_mailbox(c)]
        if others:
            zone = await self._zone()
            views = await asyncio.gather(
                *(self._view(c, start, end, zone) for c in others), return_exceptions=True
            )
            for calendar_id, view in zip(others, views, strict=True):
                if isinstance(view, CalendarGone):
                    errors[calendar_id] = view
                elif isinstance(view, BaseException):
                    raise view
                else:
                    busy[calendar_id].extend(
                        span for event in view if (span := busy_interval(event, zone)) is not None
                    )
        return FreeBusy(
            busy={
                c: merge_spans(spans, start, end) for c, spans in busy.items() if c not in errors
            },
            errors=errors,
        )

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        base = self._calendar_path(calendar_id)
        key = draft.idempotency_key
        if key:
            existing = await self._find_by_key(calendar_id, key)
            if existing is not None:
                return existing
        body = _event_body(draft)
        if key:
            body["transactionId"] = key[:255]
            body["singleValueExtendedProperties"] = [{"id": KEY_PROPERTY, "value": key}]
        response = await self._request("POST", f"{base}/events", body=body, calendar_id=calendar_id)
        assert response is not None
        return str(response.json()["id"])

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        await self._request(
            "PATCH",
            f"{self._calendar_path(calendar_id)}/events/{_segment(event_id)}",
            body=_event_body(draft),
            calendar_id=calendar_id,
            missing="event",
        )

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        await self._request(
            "DELETE",
            f"{self._calendar_path(calendar_id)}/events/{_segment(event_id)}",
            calendar_id=calendar_id,
            tolerate=(404,),  # already gone: deleting is idempotent
        )

    async def create_calendar(self, name: str) -> RemoteCalendarInfo:
        zone = await self._zone()
        response = await self._request(
            "POST", f"{self._base}/me/calendars", body={"name": name}, accept=(409,)
        )
        assert response is not None
        if response.status_code == 409:  # ErrorFolderExists: a retried create, use the first
            for calendar in await self.list_calendars():
                if calendar.name == name and not calendar.is_primary:
                    return calendar
            raise ProviderError("A calendar with that name exists but cannot be opened.")
        created = response.json()
        return RemoteCalendarInfo(
            remote_id=str(created["id"]),
            name=str(created.get("name") or name),
            time_zone=zone,
            access=Access.OWNER,
            is_primary=False,
        )

    async def list_changes(
        self,
        calendar_id: str,
        cursor: str | None,
        *,
        window_start: dt.datetime,
        window_end: dt.datetime,
        page: str | None = None,
    ) -> ChangeSet:
        zone = await self._zone()
        link = page or cursor
        if link is None:
            url = f"{self._calendar_path(calendar_id)}/calendarView/delta"
            params: dict[str, str] | None = {
                "startDateTime": _iso_z(window_start),
                "endDateTime": _iso_z(window_end),
            }
        else:
            if not link.startswith(f"{self._base}/"):
                raise CursorExpired("The Microsoft 365 sync cursor is not valid; run a full sync.")
            url, params = link, None
        response = await self._request(
            "GET", url, params=params, calendar_id=calendar_id, page_size=PAGE_SIZE
        )
        assert response is not None
        payload = response.json()
        changed: list[RemoteEvent] = []
        removed: list[str] = []
        for item in payload.get("value", ()):
            if "@removed" in item:
                removed.append(str(item["id"]))
            elif item.get("type") != "seriesMaster":
                changed.append(_to_event(item, zone))
        next_page = payload.get("@odata.nextLink")
        return ChangeSet(
            changed=tuple(changed),
            removed=tuple(removed),
            next_cursor=None if next_page else payload.get("@odata.deltaLink"),
            next_page=next_page,
        )

    # push (issue #5) ---------------------------------------------------------------------

    async def watch(
        self, calendar_id: str, *, channel_id: str, address: str, token: str, ttl: dt.timedelta
    ) -> Watch:
        """A change-notification subscription on the calendar's events. Graph validates
        `address` (the validation handshake) before answering, and caps Outlook resources at
        10,080 minutes, so `ttl` is clipped below that. Lifecycle notifications (`missed`,
        `subscriptionRemoved`, `reauthorizationRequired`) go to the same address."""
        expires = dt.datetime.now(dt.UTC) + min(ttl, MAX_SUBSCRIPTION_TTL)
        response = await self._request(
            "POST",
            f"{self._base}/subscriptions",
            body={
                "changeType": "created,updated,deleted",
                "notificationUrl": address,
                "lifecycleNotificationUrl": address,
                "resource": self._events_resource(calendar_id),
                "expirationDateTime": _iso_z(expires),
                "clientState": token,
            },
            calendar_id=calendar_id,
        )
        assert response is not None
        return _watch(response.json(), expires)

    async def renew_watch(self, watch: Watch, ttl: dt.timedelta) -> Watch:
        """PATCH the subscription's expiry; a subscription Graph no longer knows fails
        (the caller opens a new one)."""
        expires = dt.datetime.now(dt.UTC) + min(ttl, MAX_SUBSCRIPTION_TTL)
        response = await self._request(
            "PATCH",
            f"{self._base}/subscriptions/{_segment(watch.id)}",
            body={"expirationDateTime": _iso_z(expires)},
        )
        assert response is not None
        return _watch(response.json(), expires)

    async def stop_watch(self, watch: Watch) -> None:
        await self._request(
            "DELETE", f"{self._base}/subscriptions/{_segment(watch.id)}", tolerate=(404,)
        )

    def _events_resource(self, calendar_id: str) -> str:
        """The subscription `resource`, relative to the Graph root."""
        if not _is_mailbox(calendar_id):
            return f"me/calendars/{calendar_id}/events"
        if calendar_id.lower() == self._email.lower():
            return "me/events"
        return f"users/{calendar_id}/events"

    # reads ------------------------------------------------------------------------------

    async def _zone(self) -> str:
        """The mailbox's IANA zone (mailboxSettings), read once; UTC when Graph will not say."""
        if self._time_zone is None:
            response = await self._request(
                "GET", f"{self._base}/me/mailboxSettings", tolerate=(403, 404)
            )
            name = response.json().get("timeZone") if response is not None else None
            zone = _zone_name(str(name)) if name else None
            if zone is None:
                log.warning("microsoft_mailbox_zone_unknown", email=self._email)
            self._time_zone = zone or "UTC"
        return self._time_zone

    async def _schedule(
        self, mailboxes: list[str], window: Interval
    ) -> dict[str, list[Interval] | ProviderError]:
        response = await self._request(
            "POST",
            f"{self._base}/me/calendar/getSchedule",
            body={
                "schedules": mailboxes,
                "startTime": _graph_utc(window.start),
                "endTime": _graph_utc(window.end),
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
                code = str(error.get("responseCode") or "").lower()
                answers[match] = (
                    CalendarGone("The calendar is gone or no longer shared.", match)
                    if code in _GONE_SCHEDULE_CODES
                    else ProviderError("Microsoft 365 has no free/busy information for it.")
                )
                continue
            answers[match] = [
                Interval(_instant(item["start"]), _instant(item["end"]))
                for item in schedule.get("scheduleItems") or ()
                if _SHOW_AS.get(str(item.get("status")), ShowAs.BUSY)
                not in (ShowAs.FREE, ShowAs.WORKING_ELSEWHERE)  # C4
            ]
        for mailbox in mailboxes:  # a schedule Graph did not answer for is not free time
            answers.setdefault(mailbox, ProviderError("Microsoft 365 did not answer for it."))
        return answers

    async def _view(
        self, calendar_id: str, start: dt.datetime, end: dt.datetime, zone: str
    ) -> list[RemoteEvent]:
        params = {
            "startDateTime": _iso_z(start),
            "endDateTime": _iso_z(end),
            "$top": str(PAGE_SIZE),
        }
        url = f"{self._calendar_path(calendar_id)}/calendarView"
        return [
            _to_event(item, zone)
            async for item in self._items(url, params, calendar_id=calendar_id)
            if item.get("type") != "seriesMaster"
        ]

    async def _find_by_key(self, calendar_id: str, key: str) -> str | None:
        literal = key.replace("'", "''")
        response = await self._request(
            "GET",
            f"{self._calendar_path(calendar_id)}/events",
            params={
                "$filter": (
                    f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' "
                    f"and ep/value eq '{literal}')"
                ),
                "$select": "id",
                "$top": "1",
            },
            calendar_id=calendar_id,
        )
        assert response is not None
        found = response.json().get("value") or []
        return str(found[0]["id"]) if found else None

    async def _items(
        self, url: str, params: dict[str, str] | None, *, calendar_id: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a collection, following `@odata.nextLink`."""
        next_url: str | None = url
        while next_url is not None:
            if not next_url.startswith(f"{self._base}/"):
                raise ProviderError("Microsoft 365 sent a paging link elsewhere.")
            response = await self._request(
                "GET", next_url, params=params, calendar_id=calendar_id, page_size=PAGE_SIZE
            )
            assert response is not None
            payload = response.json()
            for item in payload.get("value", ()):
                yield item
            next_url, params = payload.get("@odata.nextLink"), None

    def _calendar_path(self, calendar_id: str) -> str:
        if not _is_mailbox(calendar_id):
            return f"{self._base}/me/calendars/{_segment(calendar_id)}"
        if calendar_id.lower() == self._email.lower():
            return f"{self._base}/me/calendar"
        return f"{self._base}/users/{_segment(calendar_id)}/calendar"

    # plumbing ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        calendar_id: str | None = None,
        missing: Missing = "calendar",
        tolerate: tuple[int, ...] = (),
        page_size: int | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response | None:
        """One Graph request, retried per the policy; None for a `tolerate`d status. A 404/403
        is `CalendarGone` for `calendar_id` (missing="calendar") or a vanished event."""

        async def attempt() -> httpx.Response | None:
            used = await self._token(None)
            response = await self._send(method, url, used, params, body, page_size)
            if response.status_code == 401:  # expired or revoked token: refresh once
                used = await self._token(used)
                response = await self._send(method, url, used, params, body, page_size)
                if response.status_code == 401:
                    raise AccessRevoked(REVOKED_MESSAGE)
            if response.is_success or response.status_code in accept:
                return response
            if response.status_code in tolerate:
                return None
            raise _status_error(response, calendar_id=calendar_id, missing=missing)

        return await with_retries(attempt, self._retry)

    async def _send(
        self,
        method: str,
        url: str,
        token: str,
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
        page_size: int | None,
    ) -> httpx.Response:
        prefer = 'outlook.timezone="UTC"'
        if page_size is not None:
            prefer += f", odata.maxpagesize={page_size}"
        headers = {"Authorization": f"Bearer {token}", "Prefer": prefer}
        try:
            async with self._gate:
                return await self._http.request(
                    method, url, params=params, json=body, headers=headers, timeout=self._timeout
                )
        except httpx.TransportError as exc:
            raise transport_failure(PROVIDER, exc) from None

    async def _token(self, stale: str | None) -> str:
        """The access token; with `stale` (the one Graph refused), a forced refresh unless a
        concurrent request already replaced it."""
        async with self._token_lock:
            if self._access is None or (stale is not None and self._access == stale):
                self._access = await self._tokens(stale is not None)
            return self._access


def _status_error(
    response: httpx.Response, *, calendar_id: str | None, missing: Missing
) -> ProviderError:
    status = response.status_code
    code = _graph_code(response)
    if status == 410 or (status == 400 and code.lower() in _SYNC_STATE_CODES):
        return CursorExpired("Microsoft 365 no longer accepts the sync cursor; run a full sync.")
    if status == 429:
        return throttled(PROVIDER, response)
    if status in (500, 502, 503, 504):
        return server_failure(PROVIDER, response)
    if status in (403, 404):
        if missing == "event":
            return EventGone("The event no longer exists on the Microsoft 365 calendar.")
        if calendar_id is not None:
            return CalendarGone("The calendar is gone or no longer shared.", calendar_id)
    return ProviderError(f"{PROVIDER} refused the request (HTTP {status}, {code}).")


def _graph_code(response: httpx.Response) -> str:
    try:
        code = str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "no code"
    return code if _SAFE_CODE.match(code) else "no code"


# -- values ------------------------------------------------------------------------------

_SHOW_AS: Final = {
    "free": ShowAs.FREE,
    "tentative": ShowAs.TENTATIVE,
    "busy": ShowAs.BUSY,
    "oof": ShowAs.OUT_OF_OFFICE,
    "workingElsewhere": ShowAs.WORKING_ELSEWHERE,
    # `unknown`, or anything newer: busy, the safe side of C4.
}
_RESPONSE: Final = {
    "organizer": Response.ORGANIZER,
    "accepted": Response.ACCEPTED,
    "tentativelyAccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "notResponded": Response.NEEDS_ACTION,
}


def _to_event(item: Mapping[str, Any], mailbox_zone: str) -> RemoteEvent:
    private = str(item.get("sensitivity") or "").lower() in ("private", "confidential")
    response = str((item.get("responseStatus") or {}).get("response") or "none")
    all_day = bool(item.get("isAllDay"))
    if all_day:
        own_zone = _zone_name(str(item.get("originalStartTimeZone") or "")) or mailbox_zone
        start = _midnight_utc(_all_day_date(item["start"], own_zone, ceil=False))
        end = _midnight_utc(_all_day_date(item["end"], own_zone, ceil=True))
    else:
        start, end = _instant(item["start"]), _instant(item["end"])
    subject = item.get("subject")
    return RemoteEvent(
        remote_id=str(item["id"]),
        start=start,
        end=end,
        all_day=all_day,
        status=EventStatus.CANCELLED if item.get("isCancelled") else EventStatus.CONFIRMED,
        show_as=_SHOW_AS.get(str(item.get("showAs")), ShowAs.BUSY),
        # "none": no answer recorded; the organizer's own items say "organizer".
        response=_RESPONSE.get(
            response, Response.ORGANIZER if item.get("isOrganizer") else Response.NEEDS_ACTION
        ),
        is_private=private,
        title=None if private or subject is None else str(subject),
    )


def _zone_name(name: str) -> str | None:
    """An IANA zone for a Graph zone name (IANA or Windows), if known."""
    if not name:
        return None
    candidate = name if "/" in name or name == "UTC" else MS_TIMEZONE_TO_IANA_MAP.get(name)
    if not candidate:
        return None
    try:
        ZoneInfo(str(candidate))
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return str(candidate)


def _local(value: Mapping[str, Any]) -> tuple[dt.datetime, ZoneInfo]:
    """A Graph dateTimeTimeZone as a naive local time and its zone (UTC when unknown)."""
    text = _FRACTION.sub(r"\1", str(value["dateTime"]))
    naive = dt.datetime.fromisoformat(text).replace(tzinfo=None)
    zone = _zone_name(str(value.get("timeZone") or "UTC")) or "UTC"
    return naive, ZoneInfo(zone)


def _instant(value: Mapping[str, Any]) -> dt.datetime:
    naive, zone = _local(value)
    return naive.replace(tzinfo=zone).astimezone(dt.UTC)


def _all_day_date(value: Mapping[str, Any], own_zone: str, *, ceil: bool) -> dt.date:
    """The date an all-day boundary stands for: a midnight is its date; another instant is
    read in the event's own zone, a time after midnight counting as the next date (ceil)."""
    naive, zone = _local(value)
    if naive.time() == dt.time():
        return naive.date()
    local = naive.replace(tzinfo=zone).astimezone(ZoneInfo(own_zone))
    if ceil and local.time() != dt.time():
        return local.date() + dt.timedelta(days=1)
    return local.date()


def _midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _iso_z(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _graph_utc(value: dt.datetime) -> dict[str, str]:
    return {"dateTime": value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _graph_time(value: dt.datetime, zone: str) -> dict[str, str]:
    """The draft's time in its own zone under its Windows name (what Outlook shows the
    organizer); UTC when the zone has no Windows name."""
    windows_name = IANA_TO_MS_TIMEZONE_MAP.get(zone)
    if windows_name is None:
        return _graph_utc(value)
    local = value.astimezone(ZoneInfo(zone))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": str(windows_name[0])}


def _event_body(draft: EventDraft) -> dict[str, Any]:
    attendees = [
        {"emailAddress": {"address": a.email, "name": a.name or a.email}, "type": "required"}
        for a in draft.attendees
    ]
    return {
        "subject": draft.title,
        "body": {"contentType": "text", "content": draft.description},
        "start": _graph_time(draft.start, draft.time_zone),
        "end": _graph_time(draft.end, draft.time_zone),
        "isAllDay": False,
        "showAs": "free" if draft.transparent else "busy",
        "location": {"displayName": draft.location or ""},
        "attendees": attendees if draft.send_invitations else [],
    }


def _watch(body: Mapping[str, Any], asked: dt.datetime) -> Watch:
    """A subscription as Graph answered it (its expiry, or the one we asked for)."""
    expiry = body.get("expirationDateTime")
    expires_at = _parse_z(str(expiry)) if expiry else asked
    return Watch(id=str(body["id"]), resource_id=None, expires_at=expires_at)


def _parse_z(value: str) -> dt.datetime:
    """Graph's `expirationDateTime` (ISO 8601 with `Z` or an offset, up to 7 fraction digits)."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).astimezone(dt.UTC)


def _is_mailbox(calendar_id: str) -> bool:
    """Mailbox addresses contain "@"; Graph calendar ids never do."""
    return "@" in calendar_id


def _segment(value: str) -> str:
    return quote(value, safe="=-_.~@")
