"""The adapters the `CalendarClient` contract runs against: one fixture each, building its
harness (tests/helpers/harnesses.py) around a fresh protocol-level fake. A new adapter joins
with one fixture here, named in `ADAPTERS`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from exchangelib.protocol import close_connections

from tests.fakes.exchange import FakeExchange
from tests.fakes.google import FakeGoogle
from tests.fakes.microsoft import FakeMicrosoft
from tests.helpers.caldav import caldav_harness
from tests.helpers.caldav_servers import Server
from tests.helpers.harnesses import ExchangeHarness
from tests.helpers.harnesses import GoogleHarness
from tests.helpers.harnesses import Harness
from tests.helpers.harnesses import MicrosoftHarness
from tests.helpers.microsoft import http_for

ADAPTERS = (
    "google_harness",
    "microsoft_harness",
    "exchange_harness",
    "radicale_harness",
    "xandikos_harness",
)


@pytest.fixture
async def google_harness() -> AsyncIterator[Harness]:
    with FakeGoogle() as fake:
        async with httpx.AsyncClient(trust_env=False) as http:
            yield GoogleHarness(fake, http)


@pytest.fixture
async def microsoft_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    with FakeMicrosoft() as fake:
        ca_file = fake.write_ca(tmp_path / "ca.pem")
        async with http_for(ca_file) as http:
            yield await MicrosoftHarness.signed_in(fake, http, ca_file)


@pytest.fixture(scope="module", autouse=True)
def _close_exchangelib_sessions() -> Iterator[None]:
    """exchangelib caches a protocol (and its HTTP sessions) per endpoint and login."""
    yield
    close_connections()


@pytest.fixture
async def exchange_harness() -> AsyncIterator[Harness]:
    # Made inside the test's event loop, as a limiter belongs to the loop it is used in.
    limiter = anyio.CapacityLimiter(4)
    with FakeExchange() as fake:
        yield ExchangeHarness(fake, limiter)


@pytest.fixture
async def radicale_harness(radicale_server: Server) -> AsyncIterator[Harness]:
    async with caldav_harness(radicale_server) as harness:
        yield harness


@pytest.fixture
async def xandikos_harness(xandikos_server: Server) -> AsyncIterator[Harness]:
    async with caldav_harness(xandikos_server) as harness:
        yield harness


@pytest.fixture(params=ADAPTERS, ids=lambda name: name.removesuffix("_harness"))
def harness(request: pytest.FixtureRequest) -> Harness:
    built: Harness = request.getfixturevalue(request.param)
    return built
