"""The demo's own calendar server (C29): a Radicale beside the embedded PostgreSQL, so the
demo's pages hide times its calendar events cover and its bookings land on a calendar.

Radicale is GPL: it runs as a separate process (`python -m radicale`), never imported, and
is installed by the `demo` extra (`./scripts/demo` installs it), not by a production
install. Its files live in `<data dir>/radicale/`: the collections, an htpasswd file with the
demo user's generated password (kept, so the stored credential keeps working across
restarts), the port it last listened on (reused while free, so the stored connection's URL
stays right) and its pid, through `slotgraph.embedded.PidFile`: a demo killed hard leaves Radicale
running, and the next start stops that leftover first.
"""

from __future__ import annotations

import contextlib
import importlib.util
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from slotgraph.embedded import PidFile

HOST = "127.0.0.1"
USERNAME = "dana"
START_SECONDS = 20.0


class DemoCalendarUnavailable(RuntimeError):
    """Radicale is not installed, or did not start; the message says what to do."""


@dataclass(frozen=True, slots=True)
class DemoCalDav:
    """The running demo server: its root URL and the demo user's login."""

    url: str
    username: str
    password: str

    @property
    def calendar_url(self) -> str:
        return f"{self.url}/{self.username}/calendar/"


class DemoRadicale:
    """Starts and stops the demo's Radicale in `data_dir/radicale`."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "radicale"
        self.collections = self.root / "collections"
        self.pid_file = PidFile(self.root / "radicale.pid", match=str(self.collections))

    def start(self) -> DemoCalDav:
        """Stop a crashed run's leftover, then start Radicale and wait until it listens."""
        if importlib.util.find_spec("radicale") is None:  # looked up, not imported (GPL)
            raise DemoCalendarUnavailable(
                "the demo's calendar server is missing: install the demo extra "
                "(`pip install -e '.[demo]'`, which ./scripts/demo does)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self.pid_file.stop_leftover()
        password = self._password()
        users = self.root / "users"
        users.write_text(f"{USERNAME}:{password}\n")
        users.chmod(0o600)
        port = self._port()
        with (self.root / "radicale.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [
                    *(sys.executable, "-m", "radicale", "--config", ""),
                    *("--server-hosts", f"{HOST}:{port}"),
                    *("--storage-filesystem-folder", str(self.collections)),
                    *("--auth-type", "htpasswd", "--auth-htpasswd-filename", str(users)),
                    *("--auth-htpasswd-encryption", "plain", "--rights-type", "owner_only"),
                    *("--logging-level", "warning"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                # Its own session: a Ctrl-C in the terminal stops the API first, which then
                # stops Radicale (`stop`), rather than both at once.
                start_new_session=True,
            )
        self.pid_file.record(process.pid)
        self._wait(process, port)
        return DemoCalDav(f"http://{HOST}:{port}", USERNAME, password)

    def running(self) -> DemoCalDav | None:
        """The server a live demo started in this data dir (for `slotgraph worker`)."""
        if self.pid_file.recorded() is None:
            return None
        port = int((self.root / "port").read_text())
        return DemoCalDav(f"http://{HOST}:{port}", USERNAME, self._password())

    def stop(self) -> None:
        self.pid_file.stop()

    def _password(self) -> str:
        path = self.root / "password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(18))
            path.chmod(0o600)
        return path.read_text().strip()

    def _port(self) -> int:
        """The port of the last run while it is free, else a new free one (recorded; the
        demo then connects its calendar again, `demo.connect_demo_calendar`)."""
        path = self.root / "port"
        with contextlib.suppress(FileNotFoundError, ValueError):
            port = int(path.read_text())
            if _free(port):
                return port
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        path.write_text(f"{port}\n")
        return port

    def _wait(self, process: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.path.unlink(missing_ok=True)
                raise DemoCalendarUnavailable(
                    f"the demo's Radicale exited with {process.returncode}; see "
                    f"{self.root / 'radicale.log'}"
                )
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                return
            time.sleep(0.05)
        self.stop()
        raise DemoCalendarUnavailable(f"the demo's Radicale did not listen on port {port}")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        # As a server binds (Radicale does): a port left in TIME_WAIT by the last run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True
