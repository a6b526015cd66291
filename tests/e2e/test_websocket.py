"""A real `slotgraph serve` process and a real graphql-transport-ws client (`gql`):
authentication in `connection_init` (C10), health routes, graceful shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosedError

from models.crypto import generate_key
from tests.conftest import Factory

SLOTGRAPH = str(Path(sys.executable).with_name("slotgraph"))
VIEWER = gql("query { viewer { name } }")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_ready(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    """Wait until `slotgraph serve` answers /readyz; kill it and fail if it does not."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`slotgraph serve --workers 2` on the test database, stopped with SIGTERM."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTGRAPH_SECRET_KEYS": generate_key(),
        "SLOTGRAPH_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
        "SLOTGRAPH_DB_POOL_SIZE": "2",
    }
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [SLOTGRAPH, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    wait_ready(process, base, log)
    yield base
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0  # graceful shutdown


@pytest.fixture
def ws_url(server: str) -> str:
    return server.replace("http://", "ws://") + "/graphql"


async def run(url: str, payload: dict[str, str] | None) -> dict[str, object]:
    transport = WebsocketsTransport(url=url, init_payload=payload or {}, connect_timeout=5)
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        result: dict[str, object] = await asyncio.wait_for(session.execute(VIEWER), 10)
        return result


async def test_health_routes_and_request_ids(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=5) as client:
        health = await client.get("/healthz", headers={"X-Request-ID": "trace-42"})
        ready = await client.get("/readyz")
    assert (health.json(), health.headers["x-request-id"]) == ({"status": "ok"}, "trace-42")
    assert ready.json() == {"status": "ok", "database": "ok"}
    assert len(ready.headers["x-request-id"]) == 32


async def test_websocket_token_in_connection_init(ws_url: str, factory: Factory) -> None:
    ada = await factory.person(name="Ada")
    assert await run(ws_url, {"authorization": f"Bearer {ada.token}"}) == {
        "viewer": {"name": "Ada"}
    }
    assert await run(ws_url, {"authorization": ada.token}) == {"viewer": {"name": "Ada"}}


async def test_websocket_without_token_is_anonymous(ws_url: str) -> None:
    assert await run(ws_url, None) == {"viewer": None}


async def test_websocket_with_a_bad_token_is_closed_with_4403(ws_url: str) -> None:
    with pytest.raises(TransportConnectionFailed) as refused:
        await run(ws_url, {"authorization": "Bearer sg_not-a-real-token-0000000000"})
    closed = refused.value.__cause__
    assert isinstance(closed, ConnectionClosedError)
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (4403, "Forbidden")


async def test_http_through_several_workers(server: str, factory: Factory) -> None:
    ada = await factory.person(name="Ada")
    async with httpx.AsyncClient(base_url=server, timeout=5) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/graphql",
                    json={"query": "{ viewer { name } }"},
                    headers={"Authorization": f"Bearer {ada.token}"},
                )
                for _ in range(20)
            )
        )
    assert {response.status_code for response in answers} == {200}
    assert all(response.json() == {"data": {"viewer": {"name": "Ada"}}} for response in answers)
