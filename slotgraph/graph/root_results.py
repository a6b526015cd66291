"""Which typed error each root field of the running operation answered in its result union,
told by the extensions that answer them (`DomainErrors`, the public limits) and read by the
request metrics (`slotgraph.graph.metrics`), since an answered union member leaves no trace
in the response unless the client asked for `__typename`.

Kept per operation in a context variable: each operation runs in a task of its own (an HTTP
request, a websocket operation), and graphql-core's tasks for the root fields of a query
share the dict the operation started with.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from strawberry.types import Info

_ROOT_RESULTS: ContextVar[dict[str, str] | None] = ContextVar("root_results", default=None)


def start_operation() -> dict[str, str]:
    """A new record for the operation starting in this context: response key → error name."""
    results: dict[str, str] = {}
    _ROOT_RESULTS.set(results)
    return results


def note_root_result(info: Info[Any, Any], result: object) -> None:
    """Note `result` if it is a typed error (a member of the `Error` interface) answered by a
    root field; nested fields and successes are left alone."""
    if info.path.prev is not None:
        return
    results = _ROOT_RESULTS.get()
    definition = getattr(type(result), "__strawberry_definition__", None)
    if results is None or definition is None:
        return
    if any(getattr(i, "name", None) == "Error" for i in definition.interfaces):
        results[str(info.path.key)] = definition.name
