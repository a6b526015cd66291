"""Domain proof end to end (C40, C35) against `slotgraph serve` with its workers: the periodic
re-check proves a domain once its TXT record shows on a real (loopback) name server and
lapses it once the record is gone; only a proven domain is same-origin, over HTTP (CORS
preflights) and for the websocket handshake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin
from websockets.typing import Subprotocol

from slotgraph.models.enums import Role
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.dns import DnsResponder
from tests.helpers.dns import dns_responder
from tests.helpers.serving import serve

ADD = """
mutation($domain: String!) {
  addConnectedDomain(input: {domain: $domain}) {
    ... on ConnectedDomainSuccess { domain { id verificationRecord { name value } } }
  }
}
"""
STATUSES = "query { viewer { connectedDomains { domain status } } }"
PROVEN, PENDING = "meet.ada.test", "pending.ada.test"


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsResponder]:
    with dns_responder() as responder:
        yield responder


@pytest.fixture(scope="module")
def base(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, dns: DnsResponder
) -> Iterator[str]:
    logs: Path = tmp_path_factory.mktemp("serve")
    env = {
        "SLOTGRAPH_DNS_NAMESERVERS": dns.address,
        "SLOTGRAPH_DNS_TIMEOUT_SECONDS": "2",
        "SLOTGRAPH_DOMAIN_SWEEP_SECONDS": "0.3",
        "SLOTGRAPH_DOMAIN_RECHECK_HOURS": "0.0002",  # under a second
        "SLOTGRAPH_DOMAIN_GRACE_HOURS": "0",
        "SLOTGRAPH_PUSH_NOTIFICATIONS": "false",
    }
    with serve(database_url, logs, workers=1, env=env) as url:
        yield url


@pytest.fixture
async def http(base: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base, timeout=15, trust_env=False) as client:
        yield client


async def call(http: httpx.AsyncClient, person: Person, query: str, **variables: Any) -> Any:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {person.token}"},
    )
    return response.json()["data"]


async def statuses(http: httpx.AsyncClient, person: Person) -> dict[str, str]:
    data = await call(http, person, STATUSES)
    return {d["domain"]: d["status"] for d in data["viewer"]["connectedDomains"]}


async def wait_for(http: httpx.AsyncClient, person: Person, domain: str, status: str) -> None:
    async with asyncio.timeout(30):  # generous: the sweep runs every 0.3 s
        for _ in iter(int, 1):  # the worker's outcome is seen only in the database
            if (await statuses(http, person)).get(domain) == status:
                return
            await asyncio.sleep(0.2)


async def allowed_origin(http: httpx.AsyncClient, origin: str) -> str | None:
    response = await http.options(
        "/graphql",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    allowed: str | None = response.headers.get("access-control-allow-origin")
    return allowed


async def websocket_opens(base: str, origin: str) -> bool:
    """Whether the handshake is accepted (a refused origin is HTTP 403, before any hook)."""
    url = base.replace("http://", "ws://") + "/graphql"
    try:
        async with connect(
            url, origin=Origin(origin), subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            answer: dict[str, Any] = json.loads(await socket.recv())
            return bool(answer["type"] == "connection_ack")
    except InvalidStatus as refused:
        status: int = refused.response.status_code
    assert status == 403
    return False


async def test_the_workers_prove_and_lapse_domains_and_only_proven_ones_are_same_origin(
    http: httpx.AsyncClient, base: str, dns: DnsResponder, factory: Factory
) -> None:
    ada = await factory.person(name="Ada", role=Role.ADMIN)
    added = {}
    for name in (PROVEN, PENDING):
        added[name] = (await call(http, ada, ADD, domain=name))["addConnectedDomain"]["domain"]
    assert await statuses(http, ada) == {PROVEN: "PENDING", PENDING: "PENDING"}
    assert await allowed_origin(http, f"https://{PENDING}") is None
    assert not await websocket_opens(base, f"https://{PENDING}")

    record = added[PROVEN]["verificationRecord"]
    dns.publish(record["name"], record["value"])
    await wait_for(http, ada, PROVEN, "VERIFIED")  # no verifyConnectedDomain call needed
    assert await allowed_origin(http, f"https://{PROVEN}") == f"https://{PROVEN}"
    assert await websocket_opens(base, f"https://{PROVEN}")
    assert await allowed_origin(http, f"https://{PENDING}") is None
    assert not await websocket_opens(base, "https://elsewhere.test")

    dns.withdraw(record["name"])
    await wait_for(http, ada, PROVEN, "LAPSED")
    assert (await statuses(http, ada))[PENDING] == "PENDING"
