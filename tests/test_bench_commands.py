"""Every benchmark runs both as `python bench/x.py` and as `python -m bench.x` from the
repository root, as BENCHMARKS.md says: `--help` in a subprocess proves the imports of each
form (the script form puts bench/, not the root, first on sys.path; see bench/__init__.py).
The booking page benchmark, whose figures depend on markup another change may move, also
runs once in its quick mode, answer checks included.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = sorted(p for p in (ROOT / "bench").glob("*.py") if p.name != "__init__.py")


def has_main(script: Path) -> bool:
    return 'if __name__ == "__main__":' in script.read_text(encoding="utf-8")


def test_every_benchmark_is_found() -> None:
    expected = {"slots", "workloads", "fanout", "sync", "pages", "pubsub", "mixed_load"}
    assert expected | {"sync_capacity"} <= {p.stem for p in BENCH}


@pytest.mark.parametrize("form", ["script", "module"])
@pytest.mark.parametrize("script", BENCH, ids=lambda p: p.stem)
def test_benchmark_answers_help(script: Path, form: str) -> None:
    command = (
        [sys.executable, f"bench/{script.name}"]
        if form == "script"
        else [sys.executable, "-m", f"bench.{script.stem}"]
    )

    done = subprocess.run(
        [*command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    if has_main(script):  # helper modules (bench.serve ...) only have to import cleanly
        assert done.stdout.startswith("usage:"), done.stdout


def test_the_booking_page_benchmark_runs_in_its_quick_mode() -> None:
    quick = [
        "--small",
        "--runs",
        "2",
        "--warmup",
        "1",
        "--browser-runs",
        "1",
        "--browser-warmup",
        "0",
    ]

    done = subprocess.run(
        [sys.executable, "bench/pages.py", *quick],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # It exits non-zero when the page lists other slots than the engine computes.
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"booking page GET \(HTML\): min [\d.]+ ms, p50 [\d.]+ ms", done.stdout)
    assert re.search(r"bytes, day view: [\d,]+ uncompressed, [\d,]+ gzip", done.stdout)
    assert re.search(r"bytes, slot chosen \(form\): [\d,]+ uncompressed", done.stdout)
    assert re.search(r"live \(websocket subscribed\): min [\d.]+", done.stdout)
