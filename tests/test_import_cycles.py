"""No import cycle among our modules, type-only imports included.

A cycle that only works because one side imports under `if TYPE_CHECKING:` or inside a
function still ties the modules together: neither can be read, tested or moved alone, and
the day someone needs the import at run time it breaks. So every import counts here.

How the graph is built (parsed with `ast`, nothing is imported):
- every module under `slotgraph/` is a node; `pkg/__init__.py` is the node `pkg`;
- every `import` and `from ... import` anywhere in a module (top level, under
  `TYPE_CHECKING`, inside functions) is an edge to the module it names; `from pkg import
  name` is an edge to `pkg.name` when that is a module of ours, else to `pkg` (the
  package's `__init__`, which is what runs then);
- importing `a.b.c` also runs the `__init__` of `a` and `a.b`: those packages get an edge
  too, except the importer's own ancestors (already being imported when it runs), so a
  package whose `__init__` re-exports its submodules is not in a cycle with them. A
  package `__init__` that imports nothing has no outgoing edge and can never be part of a
  cycle;
- imports of anything outside `slotgraph` are ignored.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "slotgraph"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module `node` imports from (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported(importer: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ours that `importer` (at `path`) imports, wherever the import is."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(importer, path.name == "__init__.py", node)
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                targets.add(candidate if candidate in known else source)
    edges: set[str] = set()
    own = set(_ancestors(importer))
    for target in targets:
        if target not in known:
            continue
        edges.add(target)
        edges.update(p for p in _ancestors(target) if p in known and p not in own)
    edges.discard(importer)
    return edges


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(name, path, known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), each shown
    as one cycle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return [_one_cycle(graph, set(component)) for component in components]


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, for a readable message."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & component):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return sorted(component)  # unreachable for a strongly connected component


def test_the_graph_sees_type_only_and_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from slotgraph.usecases import errors\n"
        "def f():\n    import slotgraph.models.enums\n"
    )
    known = {"slotgraph.usecases.errors", "slotgraph.models.enums", "slotgraph.models"}
    assert imported("slotgraph.x", source, known) == known


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" → ".join(cycle) for cycle in found)
