"""Embedded servers after a crash, with real processes: `slotgraph serve` on the embedded
PostgreSQL in a fresh data directory is killed with SIGKILL (its server keeps running, and
the data directory still names the dead process); every later command (migrate,
create-token, serve) takes that server over and stops it when it ends, so no postgres of
that directory is left running. And the one helper for servers we start ourselves
(`slotgraph.embedded.PidFile`, the CalDAV demo's Radicale) stops a crashed run's leftover,
never a process that merely got its pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from slotgraph.embedded import PidFile
from slotgraph.embedded import is_alive
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import embedded_postgres_stopped_after
from slotgraph.models.db import start_embedded_postgres
from slotgraph.server.cli import main
from tests.helpers.serving import SLOTGRAPH
from tests.helpers.serving import free_port
from tests.helpers.serving import wait_ready


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's base temp: pgserver opens the path's parents to its system user
    # when run as root, and every pytest session closes its base temp again.
    with tempfile.TemporaryDirectory(prefix="slotgraph-test-emb-") as path:
        yield Path(path)
        for process in postgres_of(Path(path)):  # never leave one behind on failure
            process.kill()


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return {
        **env,
        "SLOTGRAPH_DATA_DIR": str(data_dir),
        "SLOTGRAPH_SECRET_KEYS": generate_key(),
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
        "SLOTGRAPH_RUN_WORKER": "false",
    }


def postgres_of(data_dir: Path) -> list[psutil.Process]:
    """Every live postgres process serving `data_dir`."""
    pgdata = str((data_dir / "pgdata").resolve())
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if (
            "postgres" in (process.info["name"] or "")
            and pgdata in command
            and is_alive(process.pid)
        ):
            found.append(process)
    return found


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


def start_serve(data_dir: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    log = data_dir / f"serve-{port}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [SLOTGRAPH, "serve", "--port", str(port), "--workers", "1", "--no-worker"],
            env=env_for(data_dir),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    wait_ready(process, f"http://127.0.0.1:{port}", log, seconds=120)
    return process


def crash(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def slotgraph(data_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [SLOTGRAPH, *args], env=env_for(data_dir), capture_output=True, timeout=120, check=False
    )


def test_every_run_after_a_killed_serve_takes_its_postgres_over_and_stops_it(
    data_dir: Path,
) -> None:
    crash(start_serve(data_dir))
    left = postmaster_pid(data_dir)
    assert is_alive(left)  # what the crash left: a server nobody will stop

    migrated = slotgraph(data_dir, "migrate")
    assert migrated.returncode == 0, migrated.stderr.decode()[-2000:]
    assert not is_alive(left)
    assert postgres_of(data_dir) == []

    crash(start_serve(data_dir))
    unknown = slotgraph(data_dir, "create-token", "--email", "nobody@example.test")
    assert unknown.returncode == 1, unknown.stderr.decode()[-2000:]
    assert postgres_of(data_dir) == []

    crash(start_serve(data_dir))
    served = start_serve(data_dir)  # a start after the crash takes the server over ...
    served.send_signal(signal.SIGTERM)
    assert served.wait(30) == 0
    assert postgres_of(data_dir) == []  # ... and its stop stops it


def sleeper(*marker: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *marker])


def test_a_pid_file_stops_a_crashed_runs_server_and_never_a_stranger(tmp_path: Path) -> None:
    marker = str(tmp_path / "radicale-storage")
    server = sleeper(marker)
    stranger = sleeper("something-else")
    try:
        pid_file = PidFile(tmp_path / "server.pid", match=marker)
        pid_file.record(server.pid)
        # The starter crashed; the next run finds the server and stops it.
        assert PidFile(tmp_path / "server.pid", match=marker).stop_leftover() == server.pid
        assert not is_alive(server.pid)
        assert not (tmp_path / "server.pid").exists()

        # A recorded pid now belonging to another program is left alone.
        pid_file.record(stranger.pid)
        assert pid_file.stop_leftover() is None
        assert stranger.poll() is None
    finally:
        for process in (server, stranger):
            process.kill()
            process.wait(10)


def test_a_command_run_in_process_stops_only_the_server_it_started(
    data_dir: Path, tmp_path: Path
) -> None:
    with embedded_postgres_stopped_after():
        start_embedded_postgres(data_dir)
        # A command of the same process (as a test calls one) leaves that server running.
        assert main(["export-schema", "--output", str(tmp_path / "schema.graphql")]) == 0
        assert postgres_of(data_dir) != []
    assert postgres_of(data_dir) == []
