"""From a provider key to its implementation (the Cal.com calendar-registry pattern).

`server` builds one `ProviderRegistry` from settings at start; use cases receive it and
never construct adapters themselves, so tests and production differ only in base URLs.
Keys are the provider names of `slotgraph.models.enums.Provider` ("GOOGLE", "MICROSOFT365",
"EXCHANGE", "CALDAV").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

from slotgraph.providers.base import CalendarClient
from slotgraph.providers.base import RemoteCalendarInfo
from slotgraph.providers.base import TokenSource


@dataclass(frozen=True, slots=True)
class OAuthGrant:
    """What a finished consent yields: the provider account and the secret to store
    (tokens or a serialized token cache), which only the credential store may persist."""

    account_email: str
    secret: dict[str, Any]

    def __repr__(self) -> str:
        return f"OAuthGrant(account_email={self.account_email!r}, secret=<hidden>)"


@dataclass(frozen=True, slots=True)
class ExchangeAccount:
    """A validated Exchange login: the secret to store and what we learnt about the server."""

    account_email: str
    secret: dict[str, Any]
    ews_url: str
    version: str

    def __repr__(self) -> str:
        return f"ExchangeAccount(account_email={self.account_email!r}, ews_url={self.ews_url!r})"


@dataclass(frozen=True, slots=True)
class CalDavAccount:
    """A validated CalDAV login (C28): the secret to store, the calendar home discovery
    found, and the calendars listed while proving the login."""

    account_email: str
    secret: dict[str, Any]
    home_url: str
    calendars: list[RemoteCalendarInfo]

    def __repr__(self) -> str:
        return f"CalDavAccount(account_email={self.account_email!r}, home_url={self.home_url!r})"


class OAuthProvider(Protocol):
    """Google and Microsoft 365: consent flow, token refresh, revocation, calendar client."""

    async def start(self, redirect_uri: str, state: str) -> tuple[str, dict[str, Any]]:
        """The consent URL and the flow state to keep (encrypted) until the callback."""
        ...

    async def finish(
        self, flow: dict[str, Any], params: Mapping[str, str], redirect_uri: str
    ) -> OAuthGrant: ...

    async def access_token(
        self, secret: dict[str, Any], *, force: bool
    ) -> tuple[str, dict[str, Any] | None]:
        """A usable access token, and the secret to store instead when it changed."""
        ...

    async def revoke(self, secret: dict[str, Any]) -> None: ...

    def client(self, tokens: TokenSource, account_email: str) -> CalendarClient: ...


class ExchangeProvider(Protocol):
    async def connect(
        self, *, email: str, password: str, username: str | None, ews_url: str | None
    ) -> ExchangeAccount:
        """Validate the login (autodiscover when no URL) or raise a ProviderError."""
        ...

    def client(self, secret: dict[str, Any]) -> CalendarClient: ...


class CalDavProvider(Protocol):
    async def connect(
        self, *, email: str, password: str, username: str | None, server_url: str | None
    ) -> CalDavAccount:
        """Validate the login (discovery by the email's domain when no URL) or raise a
        ProviderError."""
        ...

    def client(self, secret: dict[str, Any]) -> CalendarClient: ...

    async def aclose(self) -> None:
        """Close the connection pool the clients share (at the end of the process)."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderRegistry:
    oauth: Mapping[str, OAuthProvider] = field(default_factory=dict)
    exchange: ExchangeProvider | None = None
    caldav: CalDavProvider | None = None
