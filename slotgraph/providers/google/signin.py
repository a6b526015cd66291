"""Google sign-in: OAuth 2.0 consent (authorization code + PKCE + state, S1), token refresh
and revocation.

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
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from typing import Final

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import CalendarClient
from slotgraph.providers.base import OAuthDenied
from slotgraph.providers.base import OAuthStateInvalid
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import TokenSource
from slotgraph.providers.google.client import GoogleCalendarClient
from slotgraph.providers.google.errors import REVOKED_MESSAGE
from slotgraph.providers.google.errors import mapped
from slotgraph.providers.google.errors import oauth_error_code
from slotgraph.providers.registry import OAuthGrant
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy
from slotgraph.providers.retry import with_retries

CALENDAR_SCOPE: Final = "https://www.googleapis.com/auth/calendar"
SCOPES: Final = ("openid", "email", CALENDAR_SCOPE)
REFRESH_LEEWAY_SECONDS: Final = 60


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
            with mapped():
                response = await self._http.post(
                    self._revoke_url,
                    data={"token": secret.get("refresh_token") or secret.get("access_token")},
                    timeout=self._timeout,
                )
                if response.status_code == 200 or response.status_code == 400:
                    return
                response.raise_for_status()

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
            with mapped():
                response = await self._http.post(
                    self._token_url,
                    content=body,
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Accept": "application/json",
                    },
                    timeout=self._timeout,
                )
                if response.status_code == 200:
                    return dict(response.json())
                error = oauth_error_code(response)
                if error == "invalid_grant":
                    raise AccessRevoked(REVOKED_MESSAGE)
                if error in {"invalid_client", "unauthorized_client"}:
                    raise ProviderError(
                        "Google refused this server's client id or secret; the operator must "
                        "check the Google OAuth settings."
                    )
                response.raise_for_status()
            raise ProviderError(f"Google refused the token request (HTTP {response.status_code}).")

        return await with_retries(call, self._retry)

    async def _account_email(self, access_token: str) -> str:
        async def call() -> str:
            with mapped():
                response = await self._http.get(
                    self._userinfo_url,
                    headers={"Authorization": f"Bearer {access_token}"},
                    timeout=self._timeout,
                )
                response.raise_for_status()
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
