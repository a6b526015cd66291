"""Start and stop real `slotgraph serve` processes (end-to-end tests and benchmarks)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

SLOTGRAPH = str(Path(sys.executable).with_name("slotgraph"))

# C33: benchmarks and load tests fire far more anonymous calls from one loopback address
# than any person would, so they run with these documented limit settings (README
# "Limits", BENCHMARKS.md); the limits themselves are tested with their defaults or lower.
LOAD_LIMITS = {
    "SLOTGRAPH_PUBLIC_WRITES_PER_ADDRESS": "1000000",
    "SLOTGRAPH_PUBLIC_BOOKINGS_PER_PAGE": "1000000",
    "SLOTGRAPH_PUBLIC_BOOKINGS_PER_EMAIL_PER_PAGE_PER_DAY": "1000000",
    "SLOTGRAPH_PUBLIC_READS_PER_ADDRESS": "10000000",
    "SLOTGRAPH_PUBLIC_READS_PER_PAGE": "10000000",
    "SLOTGRAPH_PUBLIC_SOCKETS_PER_ADDRESS": "100000",
    "SLOTGRAPH_PUBLIC_SUBSCRIPTIONS_PER_SOCKET": "1000",
}


def load_limit_settings() -> dict[str, int]:
    """`LOAD_LIMITS` as `Settings` keyword arguments."""
    return {name.removeprefix("SLOTGRAPH_").lower(): int(v) for name, v in LOAD_LIMITS.items()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    secret_key: str  # what other processes on the same database must be given

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/graphql"

    def stop(self) -> int:
        """SIGTERM, then the exit code (killed after 20 s)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                kill_group(self.process)


def serve(
    database_url: str,
    secret_key: str,
    log_dir: Path,
    *,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    no_worker: bool = False,
) -> Served:
    """`slotgraph serve` on a free loopback port, with `LOAD_LIMITS` unless `extra_env`
    says otherwise (`no_worker`: without its background jobs, for a separate
    `slotgraph worker`); returns once `/readyz` answers."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTGRAPH_SECRET_KEYS": secret_key,
        "SLOTGRAPH_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
        "SLOTGRAPH_DB_POOL_SIZE": "2",
        **LOAD_LIMITS,
        **(extra_env or {}),
    }
    log = log_dir / f"serve-{port}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [
                SLOTGRAPH,
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                *(["--no-worker"] if no_worker else []),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its workers share its group: `kill_group` ends them all
        )
    base = f"http://127.0.0.1:{port}"
    wait_ready(process, base, log)
    return Served(process, base, log, secret_key)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a server and its uvicorn workers, then reap it. Killing only the supervisor
    leaves its workers running, re-parented to init, holding database connections and CPU
    for the rest of the run (seen when a start timed out under load)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_ready(
    process: subprocess.Popen[bytes], base: str, log: Path, *, seconds: float = 120.0
) -> None:
    """Wait until a `slotgraph` process answers /readyz; kill it and fail if it does not.

    The bound is generous: on a loaded two-core machine `serve --workers 3` has needed more
    than a minute to import and migrate. A killed process is reaped at once, so no
    "subprocess still running" warning surfaces later in an unrelated test."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            kill_group(process)
            raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
