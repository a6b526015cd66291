"""The bearer-token flow both REST adapters (Google Calendar, Microsoft Graph) use, written
once as an `httpx.Auth` (httpx's `_auth.py` is the model): send with the current access
token; on 401 ask the `TokenSource` for a forced refresh and send once more; a second 401
means the grant is gone (`AccessRevoked`, S13).

Sign-in calls (token endpoint, userinfo, Graph `/me` right after consent) carry a token that
cannot be refreshed and do not use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from collections.abc import Generator

import httpx

from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import TokenSource


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer` from a `TokenSource`, with one refresh and resend on 401.

    `remember=False` asks the source for a token before every request (Google: the source
    itself keeps the token until shortly before its expiry). `remember=True` keeps the last
    token for this client and, after a 401, refreshes only if no concurrent request has
    already replaced the refused token (Graph: many requests of one mailbox run at once and
    should not each force a refresh).
    """

    def __init__(self, tokens: TokenSource, revoked_message: str, *, remember: bool = False):
        self._tokens = tokens
        self._revoked_message = revoked_message
        self._remember = remember
        self._access: str | None = None
        self._lock = asyncio.Lock()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("BearerAuth is for httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        used = await self._token(None)
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code != 401:
            return
        # Expired or revoked token: refresh once and send again.
        used = await self._token(used)
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code == 401:
            raise AccessRevoked(self._revoked_message)

    async def _token(self, stale: str | None) -> str:
        """The access token; with `stale` (the one refused), a forced refresh."""
        if not self._remember:
            return await self._tokens(stale is not None)
        async with self._lock:
            if self._access is None or (stale is not None and self._access == stale):
                self._access = await self._tokens(stale is not None)
            return self._access
