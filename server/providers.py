"""Building the provider registry from settings: which providers are configured, their
base URLs, and the shared HTTP client they use."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import certifi

from models.enums import Provider
from providers.exchange_registry import ExchangeConnector
from providers.google import GoogleOAuth
from providers.microsoft import MicrosoftOAuth
from providers.registry import OAuthProvider, ProviderRegistry

if TYPE_CHECKING:
    import httpx

    from server.settings import Settings


def provider_tls(settings: Settings) -> ssl.SSLContext | bool:
    """What the shared provider HTTP client verifies against: the public CAs, plus
    `microsoft_ca_bundle` when set (a private PKI in front of Microsoft, or the tests' fake)."""
    if settings.microsoft_ca_bundle is None:
        return True
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=str(settings.microsoft_ca_bundle))
    return context


def build_registry(settings: Settings, http: httpx.AsyncClient) -> ProviderRegistry:
    """Google and Microsoft 365 appear only when their client id and secret are set."""
    oauth: dict[str, OAuthProvider] = {}
    if settings.google_client_id and settings.google_client_secret:
        oauth[Provider.GOOGLE.value] = _google(
            settings, http, settings.google_client_id, settings.google_client_secret
        )
    if settings.microsoft_client_id and settings.microsoft_client_secret:
        oauth[Provider.MICROSOFT365.value] = MicrosoftOAuth(
            client_id=settings.microsoft_client_id,
            client_secret=settings.microsoft_client_secret,
            authority=settings.microsoft_authority,
            graph_base_url=settings.microsoft_graph_base_url,
            http=http,
            timeout=settings.provider_timeout_seconds,
            ca_bundle=settings.microsoft_ca_bundle,
        )
    exchange = (
        ExchangeConnector(
            max_threads=settings.exchange_max_threads,
            timeout=settings.provider_timeout_seconds,
        )
        if settings.exchange_enabled
        else None
    )
    return ProviderRegistry(oauth=oauth, exchange=exchange)


def _google(
    settings: Settings, http: httpx.AsyncClient, client_id: str, client_secret: str
) -> GoogleOAuth:
    return GoogleOAuth(
        client_id=client_id,
        client_secret=client_secret,
        auth_url=settings.google_auth_url,
        token_url=settings.google_token_url,
        revoke_url=settings.google_revoke_url,
        userinfo_url=settings.google_userinfo_url,
        api_base_url=settings.google_api_base_url,
        http=http,
        timeout=settings.provider_timeout_seconds,
    )
