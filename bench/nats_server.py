"""A private `nats-server` on a free loopback port, for tests and benchmarks: never the
machine's own server, which other work on the machine relies on (and which a test must
not restart). Debian's package `nats-server` installs the binary; `scripts/test` installs
it when missing.

    with private_nats_server() as server:
        ...  # server.url
        server.restart()  # killed (SIGKILL, a crash) and started again on the same port
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Self

from bench.serve import free_port

# The machine's server, used only when no binary is found (`fallback_url`).
MACHINE_URL = "nats://127.0.0.1:4222"
START_TIMEOUT = 10.0


def nats_server_binary() -> str | None:
    """`nats-server` on PATH, or where Debian's package puts it (/usr/sbin is not on
    every user's PATH)."""
    found = shutil.which("nats-server")
    if found is None and os.access("/usr/sbin/nats-server", os.X_OK):
        found = "/usr/sbin/nats-server"
    return found


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def fallback_url() -> str | None:
    """The machine's server when it answers (for when no binary can be found), else None."""
    return MACHINE_URL if answers("127.0.0.1", 4222) else None


class NatsServer:
    """One `nats-server` process on 127.0.0.1 (core NATS only: no JetStream, no monitor)."""

    def __init__(self, binary: str, port: int, log: Path | None = None) -> None:
        self.binary = binary
        self.port = port
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, log: Path | None = None) -> Self:
        binary = nats_server_binary()
        if binary is None:
            raise FileNotFoundError("nats-server not found: apt-get install nats-server")
        server = cls(binary, free_port(), log)
        server.run()
        return server

    @property
    def pid(self) -> int:
        assert self._process is not None, "not running"
        return self._process.pid

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def run(self) -> None:
        """Start the process and return once it accepts connections."""
        output = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                [self.binary, "-a", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
            )
        finally:
            if self.log is not None and not isinstance(output, int):
                output.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not answers("127.0.0.1", self.port, timeout=0.2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"nats-server did not start on port {self.port}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: every client sees its connection drop at once, as in a crash."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def restart(self) -> None:
        self.kill()
        self.run()


@contextlib.contextmanager
def private_nats_server(log: Path | None = None) -> Iterator[NatsServer]:
    """A `NatsServer` for the `with` block, killed on the way out."""
    server = NatsServer.start(log)
    try:
        yield server
    finally:
        server.kill()
