"""Servers a Slotgraph process starts for itself (the embedded PostgreSQL of
`slotgraph.models.db`; the CalDAV demo's Radicale) and what a crash leaves of them.

A process ended by SIGKILL (or the OOM killer, or a power cut of its container) runs no
exit handler: the server it started keeps running, and the files in its data directory
still name the dead process. Every later start would then find the server "in use by
someone else" and never stop it. Each start goes through here first:

- `prune_dead_handles`: a JSON list of the processes using a shared server (pgserver's
  `.handle_pids.json`) loses its dead members, so the last live user stops the server
  again, and a start reuses (takes over) the server a crash left running.
- `PidFile`: for a server we start as a child process ourselves. `stop_leftover` stops the
  process a crashed earlier run recorded (only when it still looks like that server:
  its command line names `match`, so a recycled pid is never killed), `record` notes the
  new one, `stop` ends it and forgets it.

psutil rather than `os.kill(pid, 0)`: a zombie still answers signal 0, and only the
command line tells a recycled pid from our server.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import psutil
import structlog

log = structlog.get_logger("slotgraph.embedded")
STOP_SECONDS = 10.0


def is_alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        status: str = psutil.Process(pid).status()
    except psutil.Error:
        return False
    return bool(status != psutil.STATUS_ZOMBIE)


def prune_dead_handles(path: Path) -> list[int]:
    """Drop the dead processes from the JSON list of pids at `path`; the live ones. The
    caller holds whatever lock guards the file (pgserver's own, for its handles)."""
    try:
        pids: list[int] = json.loads(path.read_text() or "[]")
    except FileNotFoundError:
        return []
    except ValueError:  # a torn write by a process that died mid-write
        pids = []
    alive = [pid for pid in pids if is_alive(pid)]
    if alive != pids:
        log.warning("embedded server: dropped handles of dead processes", path=str(path))
        path.write_text(json.dumps(alive))
    return alive


def stop_process(process: psutil.Process, seconds: float = STOP_SECONDS) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `seconds`."""
    with contextlib.suppress(psutil.NoSuchProcess):
        process.terminate()
        try:
            process.wait(seconds)
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(seconds)


@dataclass(frozen=True, slots=True)
class PidFile:
    """Where a server we start records its pid, in its data directory; `match` is a string
    its command line always contains (the data directory itself, usually)."""

    path: Path
    match: str

    def recorded(self) -> psutil.Process | None:
        """The recorded process, when it is alive and still that server."""
        try:
            process = psutil.Process(int(self.path.read_text().strip()))
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            command = " ".join(process.cmdline())
        except (FileNotFoundError, ValueError, psutil.Error):
            return None
        return process if self.match in command else None

    def stop_leftover(self) -> int | None:
        """Stop what a crashed earlier run left running; its pid, or None."""
        process = self.recorded()
        if process is not None:
            log.warning("embedded server: stopping a crashed run's leftover", pid=process.pid)
            stop_process(process)
        self.path.unlink(missing_ok=True)
        return None if process is None else process.pid

    def record(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid}\n")

    def stop(self) -> None:
        """Stop the recorded server (if it is still ours) and forget it."""
        process = self.recorded()
        if process is not None:
            stop_process(process)
        self.path.unlink(missing_ok=True)
