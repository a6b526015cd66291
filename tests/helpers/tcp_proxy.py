"""A TCP proxy in front of PostgreSQL that a test can cut: the database "goes away" for the
processes behind the proxy while the machine's server keeps running for everyone else.

It runs its own event loop in a thread, so synchronous code in the test (starting a
server subprocess and waiting for it) never stalls the bytes it forwards.

- `refuse()`: every open connection is dropped and new ones are refused (a stopped server).
- `blackhole()`: open connections are dropped; new ones are accepted but never answered
  (a host that vanished from the network, or a server too busy to answer).
- `restore()`: forwarding as before.

`accepted` counts the connections it was asked for (what the processes behind it opened).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url

from bench.serve import free_port


class Mode(enum.Enum):
    FORWARD = "forward"
    REFUSE = "refuse"
    BLACKHOLE = "blackhole"


class TcpProxy:
    def __init__(self, target_url: str) -> None:
        parsed = make_url(target_url)
        socket_dir = parsed.query.get("host")
        self._unix: str | None = None
        if isinstance(socket_dir, str) and socket_dir.startswith("/"):
            self._unix = str(Path(socket_dir) / f".s.PGSQL.{parsed.port or 5432}")
        self._target = (parsed.host or "127.0.0.1", parsed.port or 5432)
        self.port = free_port()
        self.url = (
            parsed.set(host="127.0.0.1", port=self.port, query={})
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._mode = Mode.FORWARD
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    # The test's side: each call runs on the proxy's loop and returns once done.
    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def stop(self) -> None:
        self._call(self._close(listen=False))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def refuse(self) -> None:
        self._mode = Mode.REFUSE
        self._call(self._close(listen=False))

    def blackhole(self) -> None:
        self._mode = Mode.BLACKHOLE
        self._call(self._close(listen=True))

    def restore(self) -> None:
        self._mode = Mode.FORWARD
        self._call(self._close(listen=True))

    def _call(self, coroutine: object) -> None:
        future: Future[None] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        future.result(10)

    # The proxy's loop.
    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _close(self, *, listen: bool) -> None:
        """Drop every open connection; listen again only if `listen`."""
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        if not listen and self._server is not None:
            self._server.close()
            self._server = None
        if listen:
            await self._listen()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        self.accepted += 1
        if self._mode is not Mode.FORWARD:  # blackhole: hold it open, say nothing
            return
        try:
            if self._unix is not None:
                up_reader, up_writer = await asyncio.open_unix_connection(self._unix)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._open.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._open.discard(writer)


@contextmanager
def tcp_proxy(target_url: str) -> Iterator[TcpProxy]:
    """A started proxy to the server of `target_url`; `proxy.url` is the same database
    through it."""
    proxy = TcpProxy(target_url)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
