"""The committed schema.graphql is exactly what the code generates."""

from __future__ import annotations

from pathlib import Path

from slotgraph.server.cli import main
from slotgraph.server.cli import schema_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == schema_sdl(), "run `slotgraph export-schema` and commit schema.graphql"


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    assert main(["export-schema", "--output", str(target)]) == 0
    assert target.read_text() == schema_sdl()
