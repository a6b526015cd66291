"""Which providers the registry offers follows the settings (S1): Google appears only with
both its client id and secret; without it, starting a Google connection says so."""

from __future__ import annotations

import httpx
import pytest

from slotgraph.providers.caldav import CalDavConnector
from slotgraph.providers.google import GoogleOAuth
from slotgraph.server.providers import build_registry
from slotgraph.server.runtime import build_runtime
from slotgraph.server.settings import Mode
from slotgraph.server.settings import Settings
from tests.helpers.accounts import Factory
from tests.helpers.graphql import GraphQLClient

START = """
mutation { startCalendarConnection(input: {provider: GOOGLE}) {
  __typename ... on Error { message field code }
} }
"""


@pytest.mark.parametrize(
    ("client_id", "client_secret", "offered"),
    [(None, None, False), ("id.apps.googleusercontent.com", None, False), ("id", "secret", True)],
)
async def test_google_is_registered_only_with_its_client_id_and_secret(
    client_id: str | None, client_secret: str | None, offered: bool
) -> None:
    settings = Settings(
        mode=Mode.DEMO, google_client_id=client_id, google_client_secret=client_secret
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http)
    assert ("GOOGLE" in registry.oauth) is offered
    if offered:
        assert isinstance(registry.oauth["GOOGLE"], GoogleOAuth)
        assert "secret" not in repr(registry.oauth["GOOGLE"])


async def test_starting_an_unconfigured_google_connection_says_what_to_do(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada = await factory.person()
    result = await gql(START, token=ada.token)
    assert result == {
        "data": {
            "startCalendarConnection": {
                "__typename": "ValidationError",
                "message": "GOOGLE sign-in is not configured on this server; ask the operator "
                "to set its client id and secret.",
                "field": "provider",
                "code": "VALIDATION",
            }
        }
    }


async def test_closing_the_runtime_closes_the_clients_the_caldav_adapters_opened() -> None:
    """Each registry's CalDAV adapter opens its own checked HTTP client (C46) on first use;
    a process that ends must close it with the runtime's own client, not leak it."""
    settings = Settings(mode=Mode.DEMO, caldav_enabled=True)
    runtime = build_runtime(settings, "postgresql://postgres@127.0.0.1:1/none")
    assert runtime.registries is not None
    connectors = [runtime.registries.interactive.caldav, runtime.registries.background.caldav]
    clients = [c.http for c in connectors if isinstance(c, CalDavConnector)]
    assert len(clients) == 2
    assert not any(client.is_closed for client in clients)
    await runtime.aclose()
    assert all(client.is_closed for client in clients)
    assert runtime.http.is_closed
