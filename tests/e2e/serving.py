"""`slotgraph serve` as a subprocess for end-to-end tests: started on a test database,
waited for until `/readyz` answers, stopped with SIGTERM (which must exit cleanly)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from models.crypto import generate_key

SLOTGRAPH = str(Path(sys.executable).with_name("slotgraph"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_ready(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    """Wait until a `slotgraph` process answers /readyz; kill it and fail if it does not."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)


@contextmanager
def serve(
    database_url: str, log_dir: Path, *, workers: int, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """The base URL of `slotgraph serve --workers N` on `database_url`."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTGRAPH_SECRET_KEYS": generate_key(),
        "SLOTGRAPH_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
        "SLOTGRAPH_DB_POOL_SIZE": "2",
        **(env or {}),
    }
    log = log_dir / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [SLOTGRAPH, "serve", "--port", str(port), "--workers", str(workers)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    wait_ready(process, base, log)
    yield base
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0, log.read_text()[-2000:]  # graceful shutdown
