"""`GET /metrics` for Prometheus: the recorder's samples (every worker's, in multiprocess
mode) and the database gauges read at scrape time (`slotgraph.observability`).

Settings (`SLOTGRAPH_METRICS_*`, docs/operations.md "Metrics"): turned off, the route is
absent; with a token, a scrape must send `Authorization: Bearer <token>` (compared in
constant time) or gets 401; with a port of its own, the route leaves the API's port and a
small second server in each worker answers it there. Every worker binds that port with
`SO_REUSEPORT`, so the kernel hands each scrape to one of them, and in multiprocess mode any
of them answers for all.

Also here: `multiprocess_metrics`, which `serve --workers N` wraps around its workers, and
`CountedSockets`, the ASGI wrapper that keeps the open-websockets gauge.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import shutil
import socket
import tempfile
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse
from starlette.responses import Response
from starlette.routing import Route

from slotgraph.observability.backlog import BacklogFamilies
from slotgraph.observability.backlog import read_backlog
from slotgraph.observability.prometheus import CONTENT_TYPE
from slotgraph.observability.prometheus import MULTIPROCESS_ENV
from slotgraph.observability.prometheus import PrometheusRecorder
from slotgraph.observability.prometheus import prepare_multiprocess_dir

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp
    from starlette.types import Message
    from starlette.types import Receive
    from starlette.types import Scope
    from starlette.types import Send

    from slotgraph.observability.recorder import Recorder
    from slotgraph.server.runtime import Runtime
    from slotgraph.server.settings import Settings

log = structlog.get_logger("slotgraph.metrics")
PATH = "/metrics"
STARTUP_SECONDS = 10.0


def metrics_endpoint(
    recorder: PrometheusRecorder, runtime: Runtime
) -> Callable[[Request], Awaitable[Response]]:
    token = runtime.settings.metrics_token
    expected = None if token is None else f"Bearer {token.get_secret_value()}".encode()

    async def metrics(request: Request) -> Response:
        sent = request.headers.get("authorization", "").encode()
        if expected is not None and not hmac.compare_digest(sent, expected):
            return PlainTextResponse(
                "metrics need the operator's token\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        backlog = await read_backlog(runtime.sessionmaker)
        # Multiprocess mode reads every worker's files: off the event loop.
        body = await run_in_threadpool(recorder.exposition, BacklogFamilies(backlog))
        return Response(body, media_type=CONTENT_TYPE)

    return metrics


def metrics_routes(runtime: Runtime) -> list[Route]:
    """`/metrics` on the API's port, unless metrics are off or have a port of their own."""
    settings = runtime.settings
    if runtime.metrics is None or settings.metrics_port is not None:
        return []
    if settings.metrics_token is None and not settings.is_demo:
        log.warning(
            "metrics are open on the API's port: set SLOTGRAPH_METRICS_TOKEN or "
            "SLOTGRAPH_METRICS_PORT if that port is public"
        )
    return [Route(PATH, metrics_endpoint(runtime.metrics, runtime), methods=["GET"])]


class _SideServer(uvicorn.Server):
    """uvicorn for the metrics port inside a serving process: the API's server owns the
    process's signals (and shuts this one down through the lifespan)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MetricsPort:
    """The metrics port of one process, started and stopped with the app's lifespan."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        assert runtime.metrics is not None
        assert settings.metrics_port is not None
        self.address = (settings.metrics_host, settings.metrics_port)
        app = Starlette(routes=[Route(PATH, metrics_endpoint(runtime.metrics, runtime))])
        self._server = _SideServer(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", ws="none")
        )
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, runtime: Runtime) -> MetricsPort | None:
        if runtime.metrics is None or runtime.settings.metrics_port is None:
            return None
        return cls(runtime)

    async def start(self) -> None:
        """Bind (shared with the other workers) and serve; raises if it cannot."""
        host, port = self.address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        async with asyncio.timeout(STARTUP_SECONDS):
            while not self._server.started:
                if self._task.done():
                    self._task.result()  # its error
                    raise RuntimeError("the metrics server stopped at start")
                await asyncio.sleep(0.02)
        log.info("metrics port", host=host, port=port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task


class CountedSockets:
    """ASGI wrapper of the websocket route keeping `Recorder.websockets_open` true: +1 when
    the socket is accepted, -1 when it ends, whatever ended it."""

    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = False

        async def counting_send(message: Message) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                self.recorder.websockets_open(1)
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                self.recorder.websockets_open(-1)


@contextlib.contextmanager
def multiprocess_metrics(settings: Settings, workers: int) -> Iterator[Path | None]:
    """For `serve` with several workers: prometheus_client's multiprocess mode, in the
    operator's `PROMETHEUS_MULTIPROC_DIR` or else a temporary directory (removed at exit),
    emptied first and handed to the workers through the environment they inherit. It must
    be set before a worker imports prometheus_client, hence here, before uvicorn starts
    them. One worker (or metrics off) needs none: its samples stay in memory."""
    if workers <= 1 or not settings.metrics_enabled:
        yield None
        return
    chosen = settings.metrics_multiprocess_dir
    directory = chosen or Path(tempfile.mkdtemp(prefix="slotgraph-metrics-"))
    prepare_multiprocess_dir(directory)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    try:
        yield directory
    finally:
        if chosen is None:
            shutil.rmtree(directory, ignore_errors=True)
