"""Exchange behind the registry's `ExchangeProvider` seam: what is stored in the encrypted
credential after a successful connect, and how a client is rebuilt from it."""

from __future__ import annotations

from typing import Any

import anyio

from slotgraph.providers.base import CalendarClient
from slotgraph.providers.exchange.client import ExchangeCalendarClient
from slotgraph.providers.exchange.connect import ExchangeCredentials
from slotgraph.providers.exchange.connect import connect_exchange
from slotgraph.providers.exchange.ews import install_trust
from slotgraph.providers.outbound import Trust
from slotgraph.providers.registry import ExchangeAccount
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy


class ExchangeThreads:
    """The one capacity limiter every EWS thread of the process runs under, shared by the
    interactive and the background connector (docs/environment.md: exchangelib is blocking)."""

    def __init__(self, max_threads: int) -> None:
        self._max_threads = max_threads
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        # Made lazily: a limiter belongs to the event loop it is first used in.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._max_threads)
        return self._limiter


class ExchangeConnector:
    """Validates logins and builds clients with one retry policy and request timeout; all
    EWS threads share `threads` so a slow Exchange server cannot starve the process. `trust`
    (C46) is installed for every EWS request of the process (`ews.install_trust`)."""

    def __init__(
        self,
        *,
        threads: ExchangeThreads,
        timeout: float,
        retry: RetryPolicy = PATIENT,
        trust: Trust | None = None,
    ) -> None:
        self._threads = threads
        self._timeout = timeout
        self._retry = retry
        if trust is not None:
            install_trust(trust)

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        return self._threads.limiter

    async def connect(
        self, *, email: str, password: str, username: str | None, ews_url: str | None
    ) -> ExchangeAccount:
        info = await connect_exchange(
            ExchangeCredentials(email, password, username, ews_url),
            limiter=self.limiter,
            timeout=self._timeout,
        )
        secret = {
            "email": info.email,
            "password": password,
            "username": info.username,
            "ews_url": info.ews_url,
            "version": info.version,
            "time_zone": info.time_zone,
        }
        return ExchangeAccount(
            account_email=info.email, secret=secret, ews_url=info.ews_url, version=info.version
        )

    def client(self, secret: dict[str, Any]) -> CalendarClient:
        return ExchangeCalendarClient(
            ExchangeCredentials(
                secret["email"], secret["password"], secret.get("username"), secret["ews_url"]
            ),
            ews_url=secret["ews_url"],
            version=secret.get("version"),
            limiter=self.limiter,
            timeout=self._timeout,
            time_zone=secret.get("time_zone"),
            retry=self._retry,
        )
