"""A threaded loopback HTTP server for the REST provider fakes: it turns each request into a
`Request` value, asks the fake for an `Answer`, and writes it back with explicit lengths
(HTTP/1.1 keep-alive, as the real providers do). Pass an `ssl.SSLContext` to serve HTTPS."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    @property
    def bearer(self) -> str | None:
        header = self.headers.get("authorization") or ""
        return header[7:] if header.lower().startswith("bearer ") else None


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        self.headers.setdefault("Content-Type", "application/json; charset=UTF-8")
        return json.dumps(self.body).encode()


class LoopbackServer:
    """Serve `handler` on 127.0.0.1 on a free port until `stop()`."""

    def __init__(
        self, handler: Callable[[Request], Answer], ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._handler = handler
        self._ssl_context = ssl_context
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def start(self) -> None:
        handle = self._handler

        class Handler(_Handler):
            handler = staticmethod(handle)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self._ssl_context is not None:
            server.socket = self._ssl_context.wrap_socket(server.socket, server_side=True)
        host, port = server.server_address[:2]
        scheme = "https" if self._ssl_context is not None else "http"
        self.base_url = f"{scheme}://{host!s}:{port}"
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    handler: Callable[[Request], Answer]

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        answer = self.handler(request)
        if answer.delay:
            time.sleep(answer.delay)
        payload = answer.payload()
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the client gave up (timeouts)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read the fakes' request logs instead."""
