"""An SPA on another origin calls `/graphql` from a real Chromium (C24, C35): a page served by
a second loopback server runs a query with a bearer token. It reads the answer when its
origin is in `SLOTGRAPH_ALLOWED_ORIGINS` or on a verified connected domain, and the browser
refuses it the answer from any other origin (no allow header: `fetch` fails)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from slotgraph.models import ConnectedDomain
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.browser import ARGS
from tests.helpers.serving import serve

SPA_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>An SPA</title></head>
<body><p>A browser app on its own origin.</p></body></html>
"""
# What an SPA runs: a POST with its bearer token, JSON in and out, no cookies (C24).
QUERY_FROM_THE_PAGE = """
async ([api, token]) => {
  try {
    const response = await fetch(api + "/graphql", {
      method: "POST",
      headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
      body: JSON.stringify({query: "query { viewer { email } }"}),
    });
    return {status: response.status, body: await response.json()};
  } catch (error) {
    return {refused: String(error)};
  }
}
"""
CONNECTED = "meet.ada.test"


class _Spa(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(SPA_PAGE)))
        self.end_headers()
        self.wfile.write(SPA_PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows failures, not access logs


@pytest.fixture(scope="module")
def spa_port() -> Iterator[int]:
    """The second loopback server: the SPA's own origin(s), one port, any host name."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Spa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def api(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, spa_port: int
) -> Iterator[str]:
    logs: Path = tmp_path_factory.mktemp("cors-browser")
    env = {
        "SLOTGRAPH_RUN_WORKER": "false",
        "SLOTGRAPH_ALLOWED_ORIGINS": f"http://127.0.0.1:{spa_port}",
    }
    with serve(database_url, logs, workers=1, env=env) as base:
        yield base


async def test_an_spa_reads_answers_only_from_allowed_origins(
    api: str, spa_port: int, factory: Factory
) -> None:
    ada = await factory.person(name="Ada", email="ada@example.test")
    await factory.add(
        ConnectedDomain(
            account_id=ada.account.id, domain=CONNECTED, verification_token="t", verified_at=PROVEN
        )
    )
    path = shutil.which("chromium")
    assert path, "install Debian's chromium (scripts/test does: apt-get install chromium)"
    # The connected domain reaches the SPA server on loopback (NOTES "Browsers").
    rules = f"--host-resolver-rules=MAP {CONNECTED} 127.0.0.1"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=[*ARGS, rules])
        try:
            context = await browser.new_context()
            page = await context.new_page()

            async def query_from(origin: str) -> dict[str, Any]:
                await page.goto(f"{origin}/app")
                result: dict[str, Any] = await page.evaluate(QUERY_FROM_THE_PAGE, [api, ada.token])
                return result

            answered = {"status": 200, "body": {"data": {"viewer": {"email": "ada@example.test"}}}}
            assert await query_from(f"http://127.0.0.1:{spa_port}") == answered  # configured
            assert await query_from(f"http://{CONNECTED}:{spa_port}") == answered  # C35
            refused = await query_from(f"http://localhost:{spa_port}")  # not allowed
            assert set(refused) == {"refused"}
            assert "Failed to fetch" in refused["refused"]
            await context.close()
        finally:
            await browser.close()
