"""Real CalDAV servers for tests: Radicale and Xandikos (both GPL, so started as separate
processes on free loopback ports, never imported), and `DavProxy`, a counting,
fault-injecting HTTP proxy in front of either, which tells the adapter's requests apart by
method and body (one `Operation` each) and records what each one transferred."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

USERS = 400
PASSWORD = "app-password-1"


# Radicale's owner_only rights, but a calendar named `readonly` in a home can only be read
# (a calendar shared with the user read-only, as far as the user can tell). First match wins.
RIGHTS = """
[readonly]
user: .+
collection: {user}/readonly(/.*)?
permissions: Rr

[principal]
user: .+
collection: {user}
permissions: RW

[calendars]
user: .+
collection: {user}/[^/]+(/.*)?
permissions: rw

[root]
user: .+
collection:
permissions: R
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(port: int, process: subprocess.Popen[bytes], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the CalDAV server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("the CalDAV server did not start")


@dataclass
class Server:
    """One running server: `url` its root, `home(n)` the n-th test account's calendar
    home, `auth(n)` its login."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    authenticated: bool
    root: Path

    def user(self, n: int) -> str:
        return f"u{n}"

    def home(self, n: int) -> str:
        return f"{self.url}/u{n}/"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def _process(name: str, root: Path, command: list[str], *, authenticated: bool) -> Iterator[Server]:
    """Run `command` (which listens on `{port}`) until the block ends; its log in `root`."""
    port = free_port()
    with (root / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            [part.replace("{port}", str(port)) for part in command],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        server = Server(
            name, f"http://127.0.0.1:{port}", process, authenticated, root=root / "data"
        )
        try:
            _wait_for(port, process)
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def radicale(root: Path) -> Iterator[Server]:
    """Radicale with htpasswd logins u0 … u399 (password `PASSWORD`)."""
    htpasswd = root / "users"
    htpasswd.write_text("".join(f"u{n}:{PASSWORD}\n" for n in range(USERS)))
    rights = root / "rights"
    rights.write_text(RIGHTS)
    command = [
        sys.executable,
        "-m",
        "radicale",
        "--storage-filesystem-folder",
        str(root / "data"),
        "--auth-type",
        "htpasswd",
        "--auth-htpasswd-filename",
        str(htpasswd),
        "--auth-htpasswd-encryption",
        "plain",
        "--rights-type",
        "from_file",
        "--rights-file",
        str(rights),
        "--server-hosts",
        "127.0.0.1:{port}",
        "--logging-level",
        "warning",
    ]
    with _process("radicale", root, command, authenticated=True) as server:
        yield server


@contextlib.contextmanager
def xandikos(root: Path) -> Iterator[Server]:
    """Xandikos without logins (it takes Basic auth only over its own TLS): each test
    account is a fresh collection tree `/u<n>/`."""
    executable = shutil.which("xandikos", path=str(Path(sys.executable).parent))
    assert executable is not None
    command = [
        executable,
        "serve",
        "-d",
        str(root / "data"),
        "--autocreate",
        "-l",
        "127.0.0.1",
        "-p",
        "{port}",
        "--current-user-principal",
        "/u0/",
    ]
    with _process("xandikos", root, command, authenticated=False) as server:
        yield server


def operation_of(method: str, depth: str | None, body: bytes) -> str:
    """The adapter operation a request belongs to (tests.helpers.harnesses.Operation)."""
    if method == "PROPFIND" and depth == "1" and b"displayname" in body:
        return "list_calendars"
    if method == "REPORT" and b"calendar-query" in body:
        return "free_busy"
    if method == "REPORT" and (b"sync-collection" in body or b"calendar-multiget" in body):
        return "list_changes"
    if method == "PUT":
        return "create_event"
    if method == "MKCALENDAR":
        return "create_calendar"
    return method.lower()


@dataclass
class Exchange:
    """One request through the proxy: its operation, and what it carried."""

    method: str
    path: str
    operation: str
    status: int
    hrefs: int  # <href> elements in the request body (multiget: resources asked for)
    response_bytes: int


@dataclass
class _Fault:
    operation: str
    times: int | None
    status: int | None = None
    retry_after: float | None = None
    hang: float = 0.0


@dataclass
class DavProxy:
    """Forwards to `upstream`; counts, fails or delays requests per operation."""

    upstream: str
    exchanges: list[Exchange] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    expire_tokens: bool = False
    # Answer sync-collection as a server without RFC 6578 does (403 supported-report), and
    # hide the sync-token property.
    without_sync_collection: bool = False
    url: str = ""
    _server: http.server.ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> DavProxy:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.forward(self, body)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = handle_one
            do_MKCALENDAR = do_MKCOL = do_PROPPATCH = do_OPTIONS = do_POST = handle_one

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def calls(self, operation: str) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.operation == operation]

    def fail_next(
        self, status: int, *, operation: str, times: int | None, retry_after: float | None
    ) -> None:
        self.faults.append(_Fault(operation, times, status=status, retry_after=retry_after))

    def hang(self, *, operation: str, times: int | None, seconds: float) -> None:
        self.faults.append(_Fault(operation, times, hang=seconds))

    def clear_faults(self) -> None:
        self.faults.clear()

    def _fault(self, operation: str) -> _Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.operation == operation and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def forward(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        method, depth = handler.command, handler.headers.get("Depth")
        operation = operation_of(method, depth, body)
        fault = self._fault(operation)
        if fault is not None and fault.status is not None:
            headers = {"Content-Length": "0"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            self._record(method, handler.path, operation, fault.status, body, 0)
            handler.send_response(fault.status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            return
        if self.without_sync_collection and b"sync-collection" in body:
            refusal = (
                b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:supported-report/></D:error>'
            )
            self._record(method, handler.path, operation, 403, body, len(refusal))
            handler.send_response(403)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(refusal)))
            handler.end_headers()
            handler.wfile.write(refusal)
            return
        if self.expire_tokens and b"sync-collection" in body:
            body = re.sub(
                rb"<D:sync-token>[^<]*</D:sync-token>",
                b"<D:sync-token>http://example.test/ns/sync/expired</D:sync-token>",
                body,
            )
        upstream = http.client.HTTPConnection(self.upstream.removeprefix("http://"), timeout=30)
        headers = {
            k: v
            for k, v in handler.headers.items()
            if k.lower() not in ("host", "content-length", "connection")
        }
        headers["Content-Length"] = str(len(body))
        upstream.request(method, handler.path, body=body, headers=headers)
        answer = upstream.getresponse()
        content = answer.read()
        self._record(method, handler.path, operation, answer.status, body, len(content))
        if fault is not None and fault.hang:
            time.sleep(fault.hang)
        try:
            handler.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in (
                    "content-length",
                    "connection",
                    "transfer-encoding",
                    "server",
                    "date",
                ):
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)
        except OSError:
            pass  # the client gave up waiting
        finally:
            upstream.close()

    def _record(
        self, method: str, path: str, operation: str, status: int, body: bytes, size: int
    ) -> None:
        with self._lock:
            self.exchanges.append(
                Exchange(method, path, operation, status, body.count(b"href>") // 2, size)
            )
