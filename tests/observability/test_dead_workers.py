"""A worker that died (killed, or restarted by uvicorn) stops counting in the open-socket
gauges, while its counters stay in the totals: real processes writing prometheus_client's
multiprocess files, scraped by `PrometheusRecorder`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from slotgraph.observability.prometheus import MULTIPROCESS_ENV
from slotgraph.observability.prometheus import prepare_multiprocess_dir
from tests.helpers.metrics import Samples

# A worker's life in a separate interpreter: one websocket left open, one provider call.
WORKER = """
from pathlib import Path
import sys
from slotgraph.observability.prometheus import PrometheusRecorder
recorder = PrometheusRecorder(Path(sys.argv[1]))
recorder.websockets_open(1)
recorder.provider_call("GOOGLE", "free_busy", "ok", 0.1)
"""
SCRAPE = """
from pathlib import Path
import sys
from slotgraph.observability.prometheus import PrometheusRecorder
sys.stdout.write(PrometheusRecorder(Path(sys.argv[1])).exposition().decode())
"""


def run(code: str, directory: Path) -> str:
    env = {**os.environ, MULTIPROCESS_ENV: str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(directory)],
        env=env,
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    )
    return done.stdout


def test_a_dead_workers_open_sockets_stop_counting_but_its_calls_stay(tmp_path: Path) -> None:
    prepare_multiprocess_dir(tmp_path)
    run(WORKER, tmp_path)
    run(WORKER, tmp_path)
    workers = set(tmp_path.glob("gauge_livesum_*.db"))
    assert len(workers) == 2

    samples = Samples.parse(run(SCRAPE, tmp_path))

    assert samples("slotgraph_websockets_open") == 0  # both workers are gone
    assert workers.isdisjoint(tmp_path.glob("gauge_livesum_*.db"))  # the scraper's own stays
    calls = {"provider": "GOOGLE", "operation": "free_busy", "outcome": "ok"}
    assert samples("slotgraph_provider_calls_total", **calls) == 2


def test_a_new_run_starts_from_an_emptied_directory(tmp_path: Path) -> None:
    run(WORKER, tmp_path)
    prepare_multiprocess_dir(tmp_path)
    assert list(tmp_path.glob("*.db")) == []
