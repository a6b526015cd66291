"""Google Calendar adapter: OAuth 2.0 consent (authorization code + PKCE + state, S1), token
refresh and revocation, and the `CalendarClient` over Calendar API v3 REST.

OAuth messages are built and checked with authlib's RFC 6749/7636 helpers (grant URI, token
request body, S256 code challenge) and sent through the process's shared httpx client;
authlib's own httpx client is not used because it opens a client per flow and, in the
installed release, warns on import when `httpx2` is absent. The consent asks for
`access_type=offline` and `prompt=consent` so that Google always returns a refresh token,
and for the calendar scope alone besides the user's email. With granular consent a user can
untick the calendar scope and still "allow": `finish` refuses such a grant as `OAuthDenied`
rather than storing a connection that cannot read the calendar.

Tokens. The stored secret holds the access token, its expiry and the refresh token.
`access_token` refreshes a minute before expiry, or when forced after a 401; Google's
`invalid_grant` on refresh means the grant was revoked or expired: `AccessRevoked` (S13).

Free/busy goes through `freeBusy` in requests of at most 50 calendars and windows of at most
`FREE_BUSY_MAX_SPAN` (Google refuses longer ranges), asked in UTC; spans cut at a window seam
are joined again. Google already applies transparency, declined invitations, cancellations
and all-day blocking in the calendar's zone; per-calendar `errors` in the answer become that
calendar's error (never free time): `notFound` is `CalendarGone` (S13, C2).

Sync (`list_changes`) uses `events.list` with `singleEvents=true` (every occurrence is its own
item, so a cancelled occurrence arrives as a `cancelled` item; the full listing asks for
`showDeleted` so it reads like later syncs) and Google's `syncToken`; a `410 Gone` answer to
an old token is `CursorExpired`. Incremental answers are not limited to the window, so an
event moved out of it is reported as removed. Each event is mapped to the neutral
`RemoteEvent` so that `slotgraph.providers.busy` applies the same C4 rules as for the other
providers:
`transparency: transparent` and working-location events are free, out-of-office events busy,
the owner's own `responseStatus` gives the response.

Idempotent creates: the event id is derived from `EventDraft.idempotency_key` (Google lets
the client choose ids in base32hex), so a retried insert answers `409 Conflict` for the same
id and lands once.

Rate limits: 429, and 403 with reason `rateLimitExceeded`/`userRateLimitExceeded`, are
`RateLimited` with any `Retry-After`; 5xx and timeouts are transient; all are retried by
`with_retries` within its bounds.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
    prepare_token_request,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

from slotgraph.providers.base import (
    Access,
    AccessRevoked,
    CalendarClient,
    CalendarGone,
    ChangeSet,
    CursorExpired,
    EventDraft,
    EventGone,
    EventStatus,
    FreeBusy,
    Interval,
    NotOffered,
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
from slotgraph.providers.registry import OAuthGrant
from slotgraph.providers.rest import server_failure, throttled, transport_failure
from slotgraph.providers.retry import PATIENT, RetryPolicy, with_retries

PROVIDER: Final = "Google"
CALENDAR_SCOPE: Final = "https://www.googleapis.com/auth/calendar"
SCOPES: Final = ("openid", "email", CALENDAR_SCOPE)
FREE_BUSY_MAX_CALENDARS: Final = 50
FREE_BUSY_MAX_SPAN: Final = dt.timedelta(days=60)
PAGE_SIZE: Final = 250
REFRESH_LEEWAY_SECONDS: Final = 60
_RATE_LIMIT_REASONS: Final = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_ACCESS: Final = {
    "owner": Access.OWNER,
    "writer": Access.WRITER,
    "reader": Access.READER,
    "freeBusyReader": Access.FREE_BUSY_READER,
}
_RESPONSES: Final = {
    "accepted": Response.ACCEPTED,
    "tentative": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "needsAction": Response.NEEDS_ACTION,
}
_REVOKED_MESSAGE: Final = "Google access was revoked or has expired; reconnect the calendar."
_GONE_MESSAGE: Final = "This Google calendar was deleted or is no longer shared with the account."


class GoogleOAuth:
    """Google behind the registry's `OAuthProvider` seam."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        auth_url: str,
        token_url: str,
        revoke_url: str,
        userinfo_url: str,
        api_base_url: str,
        http: httpx.AsyncClient,
        timeout: float,
        retry: RetryPolicy = PATIENT,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._auth_url = auth_url
        self._token_url = token_url
        self._revoke_url = revoke_url
        self._userinfo_url = userinfo_url
        self._api_base_url = api_base_url.rstrip("/")
        self._http = http
        self._timeout = timeout
        self._retry = retry

    def __repr__(self) -> str:
        return f"GoogleOAuth(client_id={self._client_id!r})"

    async def start(self, redirect_uri: str, state: str) -> tuple[str, dict[str, Any]]:
        verifier = generate_token(64)
        url = prepare_grant_uri(
            self._auth_url,
            self._client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=" ".join(SCOPES),
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
            access_type="offline",
            prompt="consent",
            include_granted_scopes="true",
        )
        return str(url), {"state": state, "code_verifier": verifier}

    async def finish(
        self, flow: dict[str, Any], params: Mapping[str, str], redirect_uri: str
    ) -> OAuthGrant:
        if params.get("state") != flow["state"]:
            raise OAuthStateInvalid("The sign-in answer does not belong to this connection.")
        if params.get("error") or not params.get("code"):
            raise OAuthDenied("Google did not grant access.")
        try:
            token = await self._token_request(
                grant_type="authorization_code",
                code=params["code"],
                redirect_uri=redirect_uri,
                code_verifier=flow["code_verifier"],
            )
        except AccessRevoked:
            raise OAuthDenied("Google refused the sign-in code; connect again.") from None
        granted = set(str(token.get("scope", "")).split())
        if CALENDAR_SCOPE not in granted:
            raise OAuthDenied("Calendar access was not granted at Google's consent screen.")
        if not token.get("refresh_token"):
            raise OAuthDenied("Google did not grant offline access; connect again.")
        email = await self._account_email(str(token["access_token"]))
        return OAuthGrant(account_email=email, secret=_secret(token))

    async def access_token(
        self, secret: dict[str, Any], *, force: bool
    ) -> tuple[str, dict[str, Any] | None]:
        if not force and float(secret.get("expires_at", 0)) - REFRESH_LEEWAY_SECONDS > time.time():
            return str(secret["access_token"]), None
        token = await self._token_request(
            grant_type="refresh_token", refresh_token=secret["refresh_token"]
        )
        renewed = _secret(token, previous=secret)
        return str(renewed["access_token"]), renewed

    async def revoke(self, secret: dict[str, Any]) -> None:
        """Revoke the grant at Google (the refresh token revokes the whole grant). A token
        Google no longer knows is already revoked: not an error."""

        async def call() -> None:
            try:
                response = await self._http.post(
                    self._revoke_url,
                    data={"token": secret.get("refresh_token") or secret.get("access_token")},
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                raise transport_failure(PROVIDER, exc) from None
            if response.status_code == 200 or response.status_code == 400:
                return
            _raise_for_status(response)

        await with_retries(call, self._retry)

    def client(self, tokens: TokenSource, account_email: str) -> CalendarClient:
        return GoogleCalendarClient(
            http=self._http,
            api_base_url=self._api_base_url,
            tokens=tokens,
            account_email=account_email,
            timeout=self._timeout,
            retry=self._retry,
        )

    async def _token_request(self, **fields: str) -> dict[str, Any]:
        body = prepare_token_request(
            client_id=self._client_id, client_secret=self._client_secret, **fields
        )

        async def call() -> dict[str, Any]:
            try:
                response = await self._http.post(
                    self._token_url,
                    content=body,
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Accept": "application/json",
                    },
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                raise transport_failure(PROVIDER, exc) from None
            if response.status_code == 200:
                return dict(response.json())
            error = _oauth_error_code(response)
            if error == "invalid_grant":
                raise AccessRevoked(_REVOKED_MESSAGE)
            if error in {"invalid_client", "unauthorized_client"}:
                raise ProviderError(
                    "Google refused this server's client id or secret; the operator must "
                    "check the Google OAuth settings."
                )
            _raise_for_status(response)
            raise ProviderError(f"Google refused the token request (HTTP {response.status_code}).")

        return await with_retries(call, self._retry)

    async def _account_email(self, access_token: str) -> str:
        async def call() -> str:
            try:
                response = await self._http.get(
                    self._userinfo_url,
                    headers={"Authorization": f"Bearer {access_token}"},
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                raise transport_failure(PROVIDER, exc) from None
            _raise_for_status(response)
            email = response.json().get("email")
            if not email:
                raise OAuthDenied("Google did not share the account's email address.")
            return str(email).lower()

        return await with_retries(call, self._retry)


def _secret(token: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    refresh = token.get("refresh_token") or (previous or {}).get("refresh_token")
    return {
        "access_token": token["access_token"],
        "refresh_token": refresh,
        "expires_at": time.time() + float(token.get("expires_in", 3_600)),
        "scope": token.get("scope") or (previous or {}).get("scope", ""),
    }


def _oauth_error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


def _error_reason(response: httpx.Response) -> str | None:
    """The first `errors[].reason` of a Google API error answer."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for item in error.get("errors") or ():
        if isinstance(item, dict) and isinstance(item.get("reason"), str):
            return str(item["reason"])
    return None


def _raise_for_status(response: httpx.Response, calendar_id: str | None = None) -> None:
    """Map a non-2xx answer to the provider error tree (2xx returns)."""
    status = response.status_code
    if status < 300:
        return
    if status == 429:
        raise throttled(PROVIDER, response)
    if status == 403 and _error_reason(response) in _RATE_LIMIT_REASONS:
        raise throttled(PROVIDER, response)
    if status >= 500:
        raise server_failure(PROVIDER, response)
    if status == 401:
        raise AccessRevoked(_REVOKED_MESSAGE)
    if status == 403 and _error_reason(response) == "insufficientPermissions":
        # The grant lacks the calendar scope (unticked at granular consent): reconnecting
        # and allowing calendar access is the only fix.
        raise AccessRevoked(_REVOKED_MESSAGE)
    if calendar_id is not None and status in {403, 404, 410}:
        raise CalendarGone(_GONE_MESSAGE, calendar_id)
    raise ProviderError(f"Google refused the request (HTTP {status}).")


def event_id_for(idempotency_key: str) -> str:
    """A Google event id for a key: base32hex (0-9, a-v), as Google requires of client ids."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    standard = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    encoded = base64.b32encode(digest).decode().rstrip("=")
    return encoded.translate(str.maketrans(standard, alphabet))


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _parse_instant(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _event_time(value: Mapping[str, Any]) -> tuple[dt.datetime, bool]:
    if "date" in value:
        day = dt.date.fromisoformat(str(value["date"]))
        return dt.datetime.combine(day, dt.time(), dt.UTC), True
    return _parse_instant(str(value["dateTime"])), False


def remote_event(item: Mapping[str, Any]) -> RemoteEvent:
    """A Calendar API `Event` resource as the neutral `RemoteEvent` (C4 inputs)."""
    start, all_day = _event_time(item["start"])
    end, _ = _event_time(item["end"])
    response = Response.ORGANIZER
    for attendee in item.get("attendees") or ():
        if attendee.get("self") and not attendee.get("organizer"):
            response = _RESPONSES.get(str(attendee.get("responseStatus")), Response.NEEDS_ACTION)
    event_type = item.get("eventType", "default")
    if item.get("transparency") == "transparent":
        show_as = ShowAs.WORKING_ELSEWHERE if event_type == "workingLocation" else ShowAs.FREE
    elif event_type == "workingLocation":
        show_as = ShowAs.WORKING_ELSEWHERE
    elif event_type == "outOfOffice":
        show_as = ShowAs.OUT_OF_OFFICE
    elif response is Response.TENTATIVE:
        show_as = ShowAs.TENTATIVE
    else:
        show_as = ShowAs.BUSY
    status = {
        "cancelled": EventStatus.CANCELLED,
        "tentative": EventStatus.TENTATIVE,
    }.get(str(item.get("status")), EventStatus.CONFIRMED)
    private = item.get("visibility") in {"private", "confidential"}
    return RemoteEvent(
        remote_id=str(item["id"]),
        start=start,
        end=end,
        all_day=all_day,
        status=status,
        show_as=show_as,
        response=response,
        is_private=private,
        title=None if private else item.get("summary"),
    )


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
        self._tokens = tokens
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
            response = await self._authorized(method, path, params, json, force=False)
            if response.status_code == 401:
                response = await self._authorized(method, path, params, json, force=True)
            if response.status_code in allow:
                return response
            _raise_for_status(response, calendar_id)
            return response

        return await with_retries(attempt, self._retry)

    async def _authorized(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json: Any,
        *,
        force: bool,
    ) -> httpx.Response:
        token = await self._tokens(force)
        try:
            return await self._http.request(
                method,
                f"{self._base}{path}",
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout,
            )
        except httpx.TransportError as exc:
            raise transport_failure(PROVIDER, exc) from None

    async def list_calendars(self) -> list[RemoteCalendarInfo]:
        calendars: list[RemoteCalendarInfo] = []
        page: str | None = None
        while True:
            params = {"maxResults": str(PAGE_SIZE)}
            if page:
                params["pageToken"] = page
            body = (await self._send("GET", "/users/me/calendarList", params=params)).json()
            for item in body.get("items") or ():
                if item.get("deleted"):
                    continue
                access = _ACCESS.get(str(item.get("accessRole")), Access.FREE_BUSY_READER)
                calendars.append(
                    RemoteCalendarInfo(
                        remote_id=str(item["id"]),
                        name=str(item.get("summaryOverride") or item.get("summary") or item["id"]),
                        time_zone=str(item.get("timeZone") or "UTC"),
                        access=access,
                        is_primary=bool(item.get("primary")),
                        can_see_all_details=access is not Access.FREE_BUSY_READER,
                    )
                )
            page = body.get("nextPageToken")
            if not page:
                break
        calendars.sort(key=lambda calendar: not calendar.is_primary)
        return calendars

    async def free_busy(
        self, calendar_ids: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> FreeBusy:
        busy: dict[str, list[Interval]] = {calendar_id: [] for calendar_id in calendar_ids}
        errors: dict[str, ProviderError] = {}
        for chunk in chunked(list(dict.fromkeys(calendar_ids)), FREE_BUSY_MAX_CALENDARS):
            for window in windows(start, end, FREE_BUSY_MAX_SPAN):
                body = (
                    await self._send(
                        "POST",
                        "/freeBusy",
                        json={
                            "timeMin": _rfc3339(window.start),
                            "timeMax": _rfc3339(window.end),
                            "timeZone": "UTC",
                            "items": [{"id": calendar_id} for calendar_id in chunk],
                        },
                    )
                ).json()
                answers = body.get("calendars") or {}
                for calendar_id in chunk:
                    answer = answers.get(calendar_id)
                    if answer is None:
                        errors[calendar_id] = TransientError(
                            "Google did not report this calendar's busy time."
                        )
                        continue
                    if answer.get("errors"):
                        errors[calendar_id] = _free_busy_error(calendar_id, answer["errors"])
                        continue
                    busy[calendar_id].extend(
                        Interval(_parse_instant(b["start"]), _parse_instant(b["end"]))
                        for b in answer.get("busy") or ()
                    )
        return FreeBusy(
            busy={cid: _merged(spans) for cid, spans in busy.items() if cid not in errors},
            errors=errors,
        )

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        body = _event_body(draft)
        event_id = event_id_for(draft.idempotency_key) if draft.idempotency_key else None
        if event_id is not None:
            body["id"] = event_id
        response = await self._send(
            "POST",
            f"/calendars/{_segment(calendar_id)}/events",
            params={"sendUpdates": "all" if draft.send_invitations else "none"},
            json=body,
            calendar_id=calendar_id,
            allow=frozenset({409}) if event_id is not None else frozenset(),
        )
        if response.status_code == 409 and event_id is not None:
            return event_id  # an earlier attempt with this key created it
        return str(response.json()["id"])

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        response = await self._send(
            "PATCH",
            f"/calendars/{_segment(calendar_id)}/events/{_segment(event_id)}",
            params={"sendUpdates": "all" if draft.send_invitations else "none"},
            json=_event_body(draft),
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
            f"/calendars/{_segment(calendar_id)}/events/{_segment(event_id)}",
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
        return RemoteCalendarInfo(
            remote_id=str(body["id"]),
            name=str(body.get("summary") or name),
            time_zone=str(body.get("timeZone") or "UTC"),
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
        params = {"singleEvents": "true", "maxResults": str(PAGE_SIZE)}
        if cursor is not None:
            params["syncToken"] = cursor  # Google refuses timeMin/timeMax with a syncToken
        else:
            params["timeMin"] = _rfc3339(window_start)
            params["timeMax"] = _rfc3339(window_end)
            # Cancelled instances of series come as `cancelled` items, as in later syncs.
            params["showDeleted"] = "true"
        if page is not None:
            params["pageToken"] = page
        response = await self._send(
            "GET",
            f"/calendars/{_segment(calendar_id)}/events",
            params=params,
            calendar_id=calendar_id,
            allow=frozenset({410}),
        )
        if response.status_code == 410:
            raise CursorExpired("Google no longer accepts the sync token; run a full sync.")
        body = response.json()
        changed: list[RemoteEvent] = []
        removed: list[str] = []
        for item in body.get("items") or ():
            if item.get("status") == "cancelled":
                removed.append(str(item["id"]))
                continue
            event = remote_event(item)
            # Incremental answers are not limited to the window: an event moved out of it
            # is nothing to keep, like a deleted one.
            if _overlaps(event, window_start, window_end):
                changed.append(event)
            else:
                removed.append(event.remote_id)
        next_page = body.get("nextPageToken")
        return ChangeSet(
            changed=tuple(changed),
            removed=tuple(removed),
            next_cursor=None if next_page else body.get("nextSyncToken"),
            next_page=next_page,
        )

    async def watch(
        self, calendar_id: str, *, channel_id: str, address: str, token: str, ttl: dt.timedelta
    ) -> Watch:
        """`events.watch`: a `web_hook` channel with our id and token; Google answers with
        the watched resource's id and the channel's expiry (milliseconds since the epoch),
        which may be sooner than asked."""
        response = await self._send(
            "POST",
            f"/calendars/{_segment(calendar_id)}/events/watch",
            json={
                "id": channel_id,
                "type": "web_hook",
                "address": address,
                "token": token,
                "params": {"ttl": str(int(ttl.total_seconds()))},
            },
            calendar_id=calendar_id,
        )
        body = response.json()
        expiration = body.get("expiration")
        expires_at = (
            dt.datetime.fromtimestamp(int(expiration) / 1000, dt.UTC)
            if expiration
            else dt.datetime.now(dt.UTC) + ttl
        )
        return Watch(id=str(body["id"]), resource_id=str(body["resourceId"]), expires_at=expires_at)

    async def renew_watch(self, watch: Watch, ttl: dt.timedelta) -> Watch:
        raise NotOffered("Google channels cannot be extended; open a new one.")

    async def stop_watch(self, watch: Watch) -> None:
        """`channels.stop`; a channel Google no longer knows (404) is already stopped."""
        await self._send(
            "POST",
            "/channels/stop",
            json={"id": watch.id, "resourceId": watch.resource_id},
            allow=frozenset({404}),
        )


def _merged(spans: list[Interval]) -> tuple[Interval, ...]:
    """Sorted, with overlapping or touching spans joined: windows split by the request
    limits must not show as two busy blocks."""
    result: list[Interval] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if result and span.start <= result[-1].end:
            if span.end > result[-1].end:
                result[-1] = Interval(result[-1].start, span.end)
        else:
            result.append(span)
    return tuple(result)


def _overlaps(event: RemoteEvent, start: dt.datetime, end: dt.datetime) -> bool:
    # All-day events carry UTC midnights; a day of slack keeps those in any zone.
    slack = dt.timedelta(days=1) if event.all_day else dt.timedelta()
    return event.end + slack > start and event.start - slack < end


def _segment(value: str) -> str:
    """Calendar and event ids as one path segment (ids hold '@' and '#')."""
    return quote(value, safe="")


def _event_body(draft: EventDraft) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": draft.title,
        "description": draft.description,
        "start": {"dateTime": draft.start.isoformat(), "timeZone": draft.time_zone},
        "end": {"dateTime": draft.end.isoformat(), "timeZone": draft.time_zone},
        "attendees": [
            {"email": attendee.email, **({"displayName": attendee.name} if attendee.name else {})}
            for attendee in draft.attendees
        ],
    }
    if draft.location:
        body["location"] = draft.location
    if draft.transparent:
        body["transparency"] = "transparent"
    return body


def _free_busy_error(calendar_id: str, errors: Sequence[Mapping[str, Any]]) -> ProviderError:
    reasons = {str(error.get("reason")) for error in errors}
    if reasons & {"notFound", "forbidden"}:
        return CalendarGone(
            "This Google calendar was deleted or is no longer shared with the account.",
            calendar_id,
        )
    return TransientError("Google could not report this calendar's busy time; try again.")
