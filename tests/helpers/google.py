"""Building the Google adapter against `tests.fakes.google.FakeGoogle`: the OAuth provider
and a token source as the credential store builds one, minus the database."""

from __future__ import annotations

import time
from typing import Any

import httpx

from slotgraph.providers.base import CalendarClient
from slotgraph.providers.google import CALENDAR_SCOPE
from slotgraph.providers.google import GoogleOAuth
from slotgraph.providers.retry import FAST
from tests.fakes.google import CLIENT_ID
from tests.fakes.google import CLIENT_SECRET
from tests.fakes.google import FakeGoogle

TIMEOUT = 1.0


def oauth_for(
    google: FakeGoogle,
    http: httpx.AsyncClient,
    *,
    timeout: float = TIMEOUT,
    client_secret: str = CLIENT_SECRET,
) -> GoogleOAuth:
    """The registry's Google provider with every URL on the fake and FAST retries."""
    return GoogleOAuth(
        client_id=CLIENT_ID,
        client_secret=client_secret,
        auth_url=google.auth_url,
        token_url=google.token_url,
        revoke_url=google.revoke_url,
        userinfo_url=google.userinfo_url,
        api_base_url=google.api_base_url,
        http=http,
        timeout=timeout,
        retry=FAST,
    )


class Tokens:
    """A token source as `CredentialStore.token_source` builds one, minus the database:
    it keeps the stored secret and what refreshes replaced it with."""

    def __init__(self, oauth: GoogleOAuth, secret: dict[str, Any]) -> None:
        self.oauth = oauth
        self.secret = secret
        self.forced = 0

    async def __call__(self, force: bool) -> str:
        self.forced += force
        token, renewed = await self.oauth.access_token(self.secret, force=force)
        self.secret = renewed or self.secret
        return token


def stored_secret(google: FakeGoogle) -> dict[str, Any]:
    """The secret a finished consent stores: a fresh grant with an hour-long access token."""
    refresh = google.grant()
    return {
        "access_token": google.access_token_for(refresh),
        "refresh_token": refresh,
        "expires_at": time.time() + 3_000,
        "scope": f"openid email {CALENDAR_SCOPE}",
    }


def google_client(
    google: FakeGoogle, http: httpx.AsyncClient, *, timeout: float = TIMEOUT
) -> CalendarClient:
    """A client as built from a stored connection, with its own fresh grant."""
    oauth = oauth_for(google, http, timeout=timeout)
    return oauth.client(Tokens(oauth, stored_secret(google)), google.email)
