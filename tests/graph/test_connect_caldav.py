"""connectCalDavCalendar end to end (C28, C44, S3–S6): GraphQL mutation → the real CalDAV
adapter → a real Radicale process on loopback, found by the server URL or by the email's
domain through RFC 6764 (SRV records from a DNS responder the test starts, then Radicale's
own `/.well-known/caldav`)."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.caldav import fresh_account
from tests.helpers.caldav_servers import PASSWORD
from tests.helpers.caldav_servers import Server
from tests.helpers.caldav_servers import free_port
from tests.helpers.database import dump
from tests.helpers.dns_responder import DnsResponder
from tests.helpers.graphql import GraphQLClient
from tests.helpers.graphql import graphql_over

CONNECT = """
mutation Connect($input: ConnectCalDavCalendarInput!) {
  connectCalDavCalendar(input: $input) {
    __typename
    ... on ConnectCalDavCalendarSuccess { connection {
      provider accountEmail status purpose
      remoteCalendars { name isPrimary access timeZone color }
    } }
    ... on Error { message field code }
  }
}
"""
DOMAIN = "caldav.test"


@pytest.fixture(scope="module")
def dns_responder() -> Iterator[DnsResponder]:
    responder = DnsResponder().start()
    yield responder
    responder.stop()


@pytest.fixture(scope="module")
async def caldav_app(
    settings: Settings, database_url: str, dns_responder: DnsResponder
) -> AsyncIterator[Starlette]:
    app = create_app(
        settings.model_copy(update={"caldav_dns_server": f"127.0.0.1:{dns_responder.port}"}),
        database_url,
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def gql(caldav_app: Starlette) -> AsyncIterator[GraphQLClient]:
    async with graphql_over(caldav_app) as client:
        yield client


async def connect(gql: GraphQLClient, person: Person, **fields: Any) -> dict[str, Any]:
    result = await gql(CONNECT, {"input": fields}, token=person.token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["connectCalDavCalendar"]
    return payload


async def test_caldav_connects_by_server_url_and_stores_no_plain_password(
    gql: GraphQLClient, factory: Factory, radicale_server: Server, database_url: str
) -> None:
    ada = await factory.person()
    with fresh_account(radicale_server) as (n, _):
        payload = await connect(
            gql,
            ada,
            email="ada@example.test",
            username=radicale_server.user(n),
            password=PASSWORD,
            serverUrl=radicale_server.url,
        )
    assert payload == {
        "__typename": "ConnectCalDavCalendarSuccess",
        "connection": {
            "provider": "CALDAV",
            "accountEmail": "ada@example.test",
            "status": "CONNECTED",
            "purpose": "BOTH",
            "remoteCalendars": [
                {
                    "name": "Work",
                    "isPrimary": True,
                    "access": "OWNER",
                    "timeZone": "America/New_York",
                    "color": None,
                }
            ],
        },
    }
    assert PASSWORD.encode() not in await dump(database_url)


async def test_caldav_is_found_from_the_email_domain_by_rfc6764(
    gql: GraphQLClient,
    factory: Factory,
    radicale_server: Server,
    dns_responder: DnsResponder,
) -> None:
    port = int(radicale_server.url.rsplit(":", 1)[1])
    # No TLS service, a plain one on Radicale's port, and no TXT path: the client asks
    # Radicale's /.well-known/caldav, which redirects to its context path.
    dns_responder.records[(f"_caldav._tcp.{DOMAIN}.", "SRV")] = [f"0 1 {port} localhost."]
    grace = await factory.person()
    with fresh_account(radicale_server) as (n, _):
        payload = await connect(
            gql,
            grace,
            email=f"grace@{DOMAIN}",
            username=radicale_server.user(n),
            password=PASSWORD,
        )
    assert payload["__typename"] == "ConnectCalDavCalendarSuccess", payload
    assert [c["name"] for c in payload["connection"]["remoteCalendars"]] == ["Work"]
    assert (f"_caldavs._tcp.{DOMAIN}.", "SRV") in dns_responder.queries  # TLS asked first


async def test_a_wrong_password_is_caldav_auth_failed_with_the_app_password_hint(
    gql: GraphQLClient, factory: Factory, radicale_server: Server
) -> None:
    ada = await factory.person()
    with fresh_account(radicale_server) as (n, _):
        payload = await connect(
            gql,
            ada,
            email="ada@example.test",
            username=radicale_server.user(n),
            password="not-the-password",
            serverUrl=radicale_server.url,
        )
    assert (payload["__typename"], payload["code"], payload["field"]) == (
        "CalDavAuthFailed",
        "CALDAV_AUTH_FAILED",
        "password",
    )
    assert "app-specific password" in payload["message"]
    assert "iCloud" in payload["message"]
    assert "Fastmail" in payload["message"]


async def test_an_address_that_is_not_caldav_is_not_a_caldav_server(
    gql: GraphQLClient, factory: Factory, caldav_app: Starlette
) -> None:
    ada = await factory.person()
    with _plain_http_server() as url:
        payload = await connect(
            gql, ada, email="ada@example.test", password=PASSWORD, serverUrl=url
        )
    assert (payload["__typename"], payload["field"]) == ("NotACalDavServer", "serverUrl")


async def test_a_server_nobody_listens_on_is_caldav_unreachable(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada = await factory.person()
    payload = await connect(
        gql,
        ada,
        email="ada@example.test",
        password=PASSWORD,
        serverUrl=f"http://127.0.0.1:{free_port()}/dav/",
    )
    assert (payload["__typename"], payload["code"]) == ("CalDavUnreachable", "CALDAV_UNREACHABLE")


class _Html(http.server.BaseHTTPRequestHandler):
    """Answers every request 200 with a web page, as a plain web server does."""

    def log_message(self, format: str, *args: object) -> None:
        return

    def answer(self) -> None:
        body = b"<html><body>Hello</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PROPFIND = do_REPORT = answer


@contextlib.contextmanager
def _plain_http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
