"""Building the provider registries from settings: which providers are configured, their
base URLs, the shared HTTP client they use, and how patient their calls are: one registry
for calls a person waits on (tight retries and timeout, so a slow provider falls back on the
busy cache, C16) and one for background jobs."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import TypedDict

from slotgraph.models.enums import Provider
from slotgraph.providers.caldav import CalDavConnector
from slotgraph.providers.caldav import CalDavSettings
from slotgraph.providers.caldav import Nameserver
from slotgraph.providers.exchange import ExchangeConnector
from slotgraph.providers.exchange import ExchangeThreads
from slotgraph.providers.google import GoogleOAuth
from slotgraph.providers.microsoft import MicrosoftOAuth
from slotgraph.providers.outbound import Trust
from slotgraph.providers.registry import OAuthProvider
from slotgraph.providers.registry import ProviderRegistry
from slotgraph.providers.retry import INTERACTIVE
from slotgraph.providers.retry import PATIENT
from slotgraph.providers.retry import RetryPolicy

if TYPE_CHECKING:
    import httpx

    from slotgraph.server.settings import Settings


def outbound_trust(settings: Settings) -> Trust:
    """C46 from settings: `ca_bundle` (and its alias `microsoft_ca_bundle`) added to the
    public CAs; the non-public networks user-supplied URLs may reach, and in the demo its own
    Radicale's address and port (that server only, not loopback at large)."""
    endpoint = settings.demo_caldav_endpoint
    return Trust.of(
        (settings.ca_bundle, settings.microsoft_ca_bundle),
        settings.outbound_allowed_networks,
        () if endpoint is None else (endpoint,),
    )


def provider_tls(settings: Settings) -> ssl.SSLContext:
    """What the shared provider HTTP client verifies against (C46)."""
    return outbound_trust(settings).ssl_context()


@dataclass(frozen=True, slots=True)
class Registries:
    """`interactive` serves requests (slot listing, booking, connecting: a person waits);
    `background` serves the worker's jobs (outbox, sync, push, task events)."""

    interactive: ProviderRegistry
    background: ProviderRegistry

    async def aclose(self) -> None:
        """Close what the adapters opened themselves (CalDAV's checked HTTP client); the
        shared HTTP client is the runtime's to close."""
        for registry in (self.interactive, self.background):
            if registry.caldav is not None:
                await registry.caldav.aclose()


def build_registries(settings: Settings, http: httpx.AsyncClient) -> Registries:
    """Both registries over one HTTP client and one Exchange thread limiter."""
    threads = ExchangeThreads(settings.exchange_max_threads)
    return Registries(
        interactive=build_registry(
            settings,
            http,
            retry=INTERACTIVE,
            timeout=min(
                settings.provider_interactive_timeout_seconds, settings.provider_timeout_seconds
            ),
            exchange_threads=threads,
        ),
        background=build_registry(settings, http, exchange_threads=threads),
    )


def build_registry(
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    retry: RetryPolicy = PATIENT,
    timeout: float | None = None,
    exchange_threads: ExchangeThreads | None = None,
) -> ProviderRegistry:
    """Google and Microsoft 365 appear only when their client id and secret are set. Every
    adapter retries per `retry` and bounds each request by `timeout` (default: the
    `provider_timeout_seconds` setting)."""
    timeout = settings.provider_timeout_seconds if timeout is None else timeout
    oauth: dict[str, OAuthProvider] = {}
    calls = _Calls(http=http, timeout=timeout, retry=retry)
    if settings.google_client_id and settings.google_client_secret:
        oauth[Provider.GOOGLE.value] = _google(
            settings, settings.google_client_id, settings.google_client_secret, calls
        )
    if settings.microsoft_client_id and settings.microsoft_client_secret:
        oauth[Provider.MICROSOFT365.value] = MicrosoftOAuth(
            client_id=settings.microsoft_client_id,
            client_secret=settings.microsoft_client_secret,
            authority=settings.microsoft_authority,
            graph_base_url=settings.microsoft_graph_base_url,
            ca_bundle=Path(outbound_trust(settings).ca_file()),
            **calls,
        )
    exchange = (
        ExchangeConnector(
            threads=exchange_threads or ExchangeThreads(settings.exchange_max_threads),
            timeout=timeout,
            retry=retry,
            trust=outbound_trust(settings),
        )
        if settings.exchange_enabled
        else None
    )
    caldav = (
        CalDavConnector(
            CalDavSettings(
                timeout=timeout,
                retry=retry,
                default_time_zone=settings.caldav_default_time_zone,
                nameserver=_nameserver(settings.caldav_dns_server),
            ),
            trust=outbound_trust(settings),
        )
        if settings.caldav_enabled
        else None
    )
    return ProviderRegistry(oauth=oauth, exchange=exchange, caldav=caldav)


def _nameserver(value: str | None) -> Nameserver | None:
    if not value:
        return None
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return Nameserver(host, int(port)) if port else Nameserver(value)


class _Calls(TypedDict):
    """How a registry's OAuth adapters call out: over the shared HTTP client, each request
    bounded by `timeout` and retried per `retry`."""

    http: httpx.AsyncClient
    timeout: float
    retry: RetryPolicy


def _google(settings: Settings, client_id: str, client_secret: str, calls: _Calls) -> GoogleOAuth:
    return GoogleOAuth(
        client_id=client_id,
        client_secret=client_secret,
        auth_url=settings.google_auth_url,
        token_url=settings.google_token_url,
        revoke_url=settings.google_revoke_url,
        userinfo_url=settings.google_userinfo_url,
        api_base_url=settings.google_api_base_url,
        **calls,
    )
