"""CalDAV behind the registry's `CalDavProvider` seam (C28): validating a login by
discovery (`discovery`), what is stored in the encrypted credential, and how a client is
rebuilt from it.

Every request goes through one httpx client on C46's `CheckedTransport`: the server is a
URL (or a domain) the user gave, so its connected peer address must be public unless the
operator allowed that network, and its certificate must chain to a trusted CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from slotgraph.providers.base import CalendarClient
from slotgraph.providers.base import NotACalDavServer
from slotgraph.providers.caldav.client import CalDavCalendarClient
from slotgraph.providers.caldav.discovery import Nameserver
from slotgraph.providers.caldav.discovery import discover
from slotgraph.providers.caldav.discovery import starting_urls
from slotgraph.providers.caldav.http import DavHttp
from slotgraph.providers.outbound import CheckedTransport
from slotgraph.providers.outbound import Trust
from slotgraph.providers.registry import CalDavAccount
from slotgraph.providers.retry import INTERACTIVE
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class CalDavSettings:
    timeout: float
    retry: RetryPolicy = PATIENT
    # The zone of calendars that declare none.
    default_time_zone: str = "UTC"
    # RFC 6764 SRV look-ups: None asks the system resolver.
    nameserver: Nameserver | None = None


class CalDavConnector:
    """Validates CalDAV logins and builds clients over one checked httpx client (C46)."""

    def __init__(self, settings: CalDavSettings, *, trust: Trust | None = None) -> None:
        self._settings = settings
        self._trust = trust or Trust()
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        # Made lazily: its connection pool belongs to the event loop it is first used in.
        if self._http is None:
            self._http = httpx.AsyncClient(transport=CheckedTransport(self._trust), trust_env=False)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def connect(
        self, *, email: str, password: str, username: str | None, server_url: str | None
    ) -> CalDavAccount:
        """Find the account (server URL as given, else by the email's domain, C44) and
        prove the login lists at least one event calendar; raises AuthenticationFailed,
        NotACalDavServer, ServerUnreachable, TlsCertificateUntrusted or AddressNotAllowed."""
        login = username or email
        timeout = self._settings.timeout
        dav = DavHttp(self.http, login, password, timeout, INTERACTIVE, connecting=True)
        urls = await starting_urls(email, server_url, self._settings.nameserver, timeout)
        account = await discover(dav, urls)
        secret: dict[str, Any] = {
            "email": email,
            "username": login,
            "password": password,
            "home_url": account.home_url,
            "default_calendar_url": account.default_calendar_url,
            "addresses": list(account.addresses),
            "time_zone": self._settings.default_time_zone,
        }
        calendars = await self.client(secret, retry=INTERACTIVE).list_calendars()
        if not calendars:
            raise NotACalDavServer(
                "The CalDAV account has no event calendar; create one in its calendar app."
            )
        secret["time_zone"] = calendars[0].time_zone
        return CalDavAccount(
            account_email=email, secret=secret, home_url=account.home_url, calendars=calendars
        )

    def client(self, secret: dict[str, Any], *, retry: RetryPolicy | None = None) -> CalendarClient:
        return CalDavCalendarClient(
            self.http,
            email=secret["email"],
            username=secret["username"],
            password=secret["password"],
            home_url=secret["home_url"],
            default_calendar_url=secret.get("default_calendar_url"),
            addresses=secret.get("addresses", ()),
            time_zone=secret.get("time_zone") or self._settings.default_time_zone,
            timeout=self._settings.timeout,
            retry=retry or self._settings.retry,
        )
