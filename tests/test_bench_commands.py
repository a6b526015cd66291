"""Every benchmark runs both as `python bench/x.py` and as `python -m bench.x` from the
repository root, as BENCHMARKS.md says: `--help` in a subprocess proves the imports of each
form (the script form puts bench/, not the root, first on sys.path; see bench/__init__.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = sorted(p for p in (ROOT / "bench").glob("*.py") if p.name != "__init__.py")


def has_main(script: Path) -> bool:
    return 'if __name__ == "__main__":' in script.read_text(encoding="utf-8")


def test_every_benchmark_is_found() -> None:
    assert {"slots", "workloads", "fanout", "sync"} <= {p.stem for p in BENCH}


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
