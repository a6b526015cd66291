"""Completed once: an object shared by many requests (a shared slot answer's
`AvailableSlots`, `slotgraph.usecases.slot_answers`) is turned into its response data once
per selection, and every later request with the same selection reuses that data.

Without it graphql-core completes the 365 slots of the canonical page field by field on
every request, about 730 leaf values and 60 objects: more than half of a shared answer's
cost (BENCHMARKS.md, shared slot answers). An object opts in by carrying a
`CompletionMemo` in its `completion_memo` attribute; it lives and dies with the object, so
the data is never served after the answer it was made from is dropped (a change notice, the
clock, its age).

What a completion depends on besides the object: the field nodes of the selection (their
sub-selections, fragments, directives) and the operation's variables (for `@include`,
`@skip` and arguments below). The memo is keyed by the identity of those nodes, which it
keeps alive so that no other document's nodes can take the same ids, and by the variables;
the parser cache hands the same nodes to every request with the same document. Only a
completion that finished synchronously and added no error is kept: an error belongs to
its own response (its path, its request id). Incremental delivery (`@defer`, `@stream`)
is not enabled in this schema, so no completion leaves work behind for later payloads.

    @strawberry.type
    class AvailableSlots:
        ...
        completion_memo: strawberry.Private[CompletionMemo] = dataclasses.field(
            default_factory=CompletionMemo
        )

    strawberry.Schema(query=Query, execution_context_class=CompletingOnce)

Hand-written: neither graphql-core nor Strawberry shares completed data between
operations. The graphql-core method it overrides is pinned by tests/graph/test_completion.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

if TYPE_CHECKING:
    from collections.abc import Hashable
    from collections.abc import Sequence

    from graphql import GraphQLObjectType
    from graphql import GraphQLResolveInfo
    from graphql.pyutils import Path

# Distinct selections kept per object: every client of a page asks with the same one or
# two documents; a caller sending ever new documents must not grow the memo.
MAX_SELECTIONS = 8


@dataclass(eq=False)
class CompletionMemo:
    """Completed data per (selection, variables) for the object that holds it."""

    completed: dict[Hashable, dict[str, Any]] = field(default_factory=dict)
    # The field nodes each key names by identity, kept alive with it.
    _nodes: list[Sequence[Any]] = field(default_factory=list)
    hits: int = 0

    def key(self, field_details: Sequence[Any], variables: dict[str, Any]) -> Hashable | None:
        """None when the variables cannot be a key (a list or an input object)."""
        key = (tuple(id(detail.node) for detail in field_details), tuple(variables.items()))
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, key: Hashable) -> dict[str, Any] | None:
        found = self.completed.get(key)
        if found is not None:
            self.hits += 1
        return found

    def keep(self, key: Hashable, field_details: Sequence[Any], data: dict[str, Any]) -> None:
        if len(self.completed) < MAX_SELECTIONS:
            self.completed[key] = data
            self._nodes.append(field_details)


class CompletingOnce(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, reusing a `CompletionMemo`'s data where an object has one."""

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        memo = getattr(result, "completion_memo", None)
        if not isinstance(memo, CompletionMemo):
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
        key = memo.key(field_details_list, self.variable_values.coerced)
        if key is not None and (found := memo.get(key)) is not None:
            return found
        errors = len(self.collected_errors.errors)
        completed = super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )
        if (
            key is not None
            and isinstance(completed, dict)
            and len(self.collected_errors.errors) == errors
        ):
            memo.keep(key, field_details_list, completed)
        return completed
