"""How test code shares code: test modules never import one another. Whatever two test
modules share lives in `tests.helpers` (builders, harnesses, GraphQL steps, fixtures taken by
assignment) or `tests.fakes` (the provider fakes), or is a fixture of a conftest.py, which
pytest hands out without an import. A module may still import a plain module of its own
folder (one that is neither a test module nor a conftest).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
SHARED = ("tests.helpers", "tests.fakes")  # packages and their modules


def module_name(path: Path) -> str:
    parts = path.relative_to(TESTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module `path` imports (at any depth, `TYPE_CHECKING` blocks included), and for
    `from package import name` also `package.name`, which may be a module."""
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = (package or module_name(path)).split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def allowed(importer: Path, target: str, root: Path = TESTS.parent) -> bool:
    """May `importer` (a file under `root`/tests) import the module `target`?"""
    if not target.startswith("tests."):
        return True  # not test code, or the `tests` package itself
    if target.startswith(SHARED):
        # The fakes model providers: they stand on their own, below the helpers.
        fake = importer.is_relative_to(root / "tests" / "fakes")
        return not (fake and target.startswith("tests.helpers"))
    file = root / (target.replace(".", "/") + ".py")
    if not file.exists():
        return True  # a package, or `from package import name` naming a function
    plain = not file.name.startswith("test_") and file.name != "conftest.py"
    return plain and file.parent == importer.parent


def test_test_modules_share_code_only_through_helpers_fakes_and_conftest_fixtures() -> None:
    offences = sorted(
        f"{path.relative_to(TESTS.parent)} imports {target}"
        for path in TESTS.rglob("*.py")
        for target in imported(path)
        if not allowed(path, target)
    )
    assert offences == [], "move the shared code to tests/helpers/:\n" + "\n".join(offences)


def test_the_layout_rule_catches_what_it_is_for(tmp_path: Path) -> None:
    """The checker itself: a test module importing another, a conftest, or a plain module
    of another folder is caught; helpers, fakes and same-folder plain modules are not."""
    for name in ("sync/test_a.py", "graph/test_b.py", "graph/steps.py", "conftest.py"):
        (tmp_path / "tests" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tests" / name).touch()
    sync_test = tmp_path / "tests" / "sync" / "test_a.py"
    graph_test = tmp_path / "tests" / "graph" / "test_b.py"
    fake = tmp_path / "tests" / "fakes" / "example.py"

    assert not allowed(sync_test, "tests.graph.test_b", tmp_path)
    assert not allowed(sync_test, "tests.graph.steps", tmp_path)
    assert not allowed(sync_test, "tests.conftest", tmp_path)
    assert not allowed(fake, "tests.helpers.events", tmp_path)
    assert allowed(graph_test, "tests.graph.steps", tmp_path)
    assert allowed(sync_test, "tests.helpers.events", tmp_path)
    assert allowed(sync_test, "tests.fakes.scenario", tmp_path)
    assert allowed(sync_test, "slotgraph.providers.base", tmp_path)
