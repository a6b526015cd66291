"""Requests to Microsoft Graph for one mailbox: `BearerAuth` (a 401 forces one token refresh,
a second 401 is `AccessRevoked`), the mailbox's concurrency gate, the UTC and page-size
preferences, retries per the policy, and every failure mapped once by `errors.mapped`.

Graph allows 4 concurrent requests per mailbox: every request, with its token refresh and
resend after a 401, holds the mailbox's semaphore, shared by all clients of that mailbox in
the process. Paging links are followed only when they point at the configured Graph base
URL, so a bearer token is never sent elsewhere.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any
from typing import Final

import httpx

from slotgraph.providers.auth import BearerAuth
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import TokenSource
from slotgraph.providers.microsoft.errors import REVOKED_MESSAGE
from slotgraph.providers.microsoft.errors import Missing
from slotgraph.providers.microsoft.errors import mapped
from slotgraph.providers.microsoft.errors import status_error
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy
from slotgraph.providers.retry import with_retries

MAX_CONCURRENT_PER_MAILBOX: Final = 4
PAGE_SIZE: Final = 100

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


class Graph:
    """Graph v1.0 as one mailbox's client calls it."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        mailbox: str,
        base_url: str,
        timeout: float,
        retry: RetryPolicy = PATIENT,
    ) -> None:
        self._http = http
        self._auth = BearerAuth(tokens, REVOKED_MESSAGE, remember=True)
        self._gate = mailbox_gate(mailbox)
        self.base = base_url.rstrip("/")
        self._timeout = timeout
        self._retry = retry

    async def request(
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

        prefer = 'outlook.timezone="UTC"'
        if page_size is not None:
            prefer += f", odata.maxpagesize={page_size}"

        async def attempt() -> httpx.Response | None:
            with mapped(calendar_id, missing):
                async with self._gate:
                    response = await self._http.request(
                        method,
                        url,
                        params=params,
                        json=body,
                        headers={"Prefer": prefer},
                        auth=self._auth,
                        timeout=self._timeout,
                    )
                if response.is_success or response.status_code in accept:
                    return response
                if response.status_code in tolerate:
                    return None
                raise status_error(response, calendar_id=calendar_id, missing=missing)

        return await with_retries(attempt, self._retry)

    async def items(
        self, url: str, params: dict[str, str] | None, *, calendar_id: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a collection, following `@odata.nextLink`."""
        next_url: str | None = url
        while next_url is not None:
            if not next_url.startswith(f"{self.base}/"):
                raise ProviderError("Microsoft 365 sent a paging link elsewhere.")
            response = await self.request(
                "GET", next_url, params=params, calendar_id=calendar_id, page_size=PAGE_SIZE
            )
            assert response is not None
            payload = response.json()
            for item in payload.get("value", ()):
                yield item
            next_url, params = payload.get("@odata.nextLink"), None
