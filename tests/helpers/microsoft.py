"""Building the Microsoft 365 adapter against `tests.fakes.microsoft.FakeMicrosoft`: the
OAuth provider over the fake's HTTPS, a click through its consent screen, and a small box
that keeps the secret as the credential store does."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import httpx

from slotgraph.providers.microsoft import MicrosoftOAuth
from slotgraph.providers.registry import OAuthGrant
from slotgraph.providers.retry import FAST
from tests.fakes.microsoft import CLIENT_ID
from tests.fakes.microsoft import CLIENT_SECRET
from tests.fakes.microsoft import FakeMicrosoft
from tests.fakes.microsoft import consent_form

REDIRECT_URI = "https://app.slotgraph.test/oauth/microsoft365/callback"
TIMEOUT = 2.0


def http_for(ca_file: Path) -> httpx.AsyncClient:
    """An HTTP client trusting only the fake's CA (never the machine's bundle variables)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    return httpx.AsyncClient(verify=context, trust_env=False, timeout=TIMEOUT)


def oauth_for(
    fake: FakeMicrosoft,
    http: httpx.AsyncClient,
    ca_file: Path | None,
    *,
    timeout: float = TIMEOUT,
) -> MicrosoftOAuth:
    """The registry's Microsoft provider on the fake (trusting `ca_file`), FAST retries."""
    return MicrosoftOAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        authority=fake.authority,
        graph_base_url=fake.graph_url,
        http=http,
        timeout=timeout,
        ca_bundle=ca_file,
        retry=FAST,
    )


class SecretBox:
    """Keeps a connection's secret the way the credential store does: replaced whenever
    `access_token` hands back a renewed one."""

    def __init__(self, oauth: MicrosoftOAuth, secret: dict[str, Any]) -> None:
        self.oauth = oauth
        self.secret = secret
        self.renewals = 0

    async def __call__(self, force: bool) -> str:
        token, renewed = await self.oauth.access_token(self.secret, force=force)
        if renewed is not None:
            self.secret = renewed
            self.renewals += 1
        return token


async def consent(
    oauth: MicrosoftOAuth, http: httpx.AsyncClient, state: str = "state-123"
) -> tuple[str, dict[str, str]]:
    """Start the flow and click through the fake's consent screen: the redirect's query."""
    url, flow = await oauth.start(REDIRECT_URI, state)
    action, params = consent_form(await http.get(url))
    assert action == REDIRECT_URI
    return json.dumps(flow), params


async def connect(oauth: MicrosoftOAuth, http: httpx.AsyncClient) -> OAuthGrant:
    """A finished consent: the grant the app would store."""
    flow, params = await consent(oauth, http)
    return await oauth.finish(json.loads(flow), params, REDIRECT_URI)
