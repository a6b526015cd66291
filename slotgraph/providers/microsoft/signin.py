"""Microsoft 365 sign-in: the consent flow and token refresh with msal (S1).

msal's `ConfidentialClientApplication` runs the authorization-code flow with state, PKCE and
nonce (`initiate_auth_code_flow` / `acquire_token_by_auth_code_flow`), with
`response_mode=form_post`: the callback receives the code in a POSTed form, never in a URL.
The flow dict is kept encrypted by the connection use case until the callback.
Scopes: Calendars.ReadWrite (S1, S20), User.Read (the account's address),
MailboxSettings.Read (the mailbox's time zone, in which all-day events block their dates, C4)
and email; msal adds openid, profile and offline_access itself. The stored secret is msal's
`SerializableTokenCache`, serialized, with the account's home id: refreshing is
`acquire_token_silent_with_error` (forced after a 401), and the cache is stored again
whenever msal changed it (a refresh rotates the refresh token).

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
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import Final
from typing import TypeVar

import anyio
import httpx
import msal
import requests
import structlog

from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import OAuthStateInvalid
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import TokenSource
from slotgraph.providers.base import TransientError
from slotgraph.providers.microsoft.client import MicrosoftCalendarClient
from slotgraph.providers.microsoft.errors import REVOKED_MESSAGE
from slotgraph.providers.microsoft.errors import code_error
from slotgraph.providers.microsoft.errors import mapped
from slotgraph.providers.microsoft.errors import refresh_error
from slotgraph.providers.microsoft.errors import signin_mapped
from slotgraph.providers.microsoft.errors import status_error
from slotgraph.providers.registry import OAuthGrant
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy

T = TypeVar("T")

log = structlog.get_logger("slotgraph.microsoft")

SCOPES: Final = ("Calendars.ReadWrite", "User.Read", "MailboxSettings.Read", "email")
SECRET_VERSION: Final = 1
DISCOVERY_LIFETIME: Final = 12 * 3600.0
THREAD_DEADLINE_FACTOR: Final = 3


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
        ca_bundle: Path | None = None,  # the CAs msal's requests trust (C46: public + extra)
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
                raise code_error(result)
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
                raise refresh_error(result)
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
            with signin_mapped():
                return work()

        try:
            with anyio.fail_after(self._timeout * THREAD_DEADLINE_FACTOR):
                return await anyio.to_thread.run_sync(
                    run, limiter=self.limiter, abandon_on_cancel=True
                )
        except TimeoutError:
            raise TransientError("Microsoft sign-in did not answer in time; try again.") from None

    async def _mailbox_address(self, access_token: str) -> str | None:
        with mapped():
            response = await self._http.get(
                f"{self._graph}/me",
                params={"$select": "mail,userPrincipalName"},
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=self._timeout,
            )
            if response.status_code != 200:
                raise status_error(response, calendar_id=None, missing="calendar")
        me = response.json()
        address = me.get("mail") or me.get("userPrincipalName")
        return str(address) if address else None
