"""GraphQL requests as metrics (C48): one count per root field of each operation, labelled by
operation type and the root field's schema name, never by the client's operation name or
aliases, with the result and the operation's duration.

The result of a root field is
- the name of the typed error it answered in its result union (`SlotUnavailable`, ...),
  noted by the extensions that answer them (`slotgraph.graph.root_results`);
- the `extensions.code` of an expected error outside a union (a query field's `NOT_FOUND`,
  a public read's `RATE_LIMITED`);
- `unexpected` for anything masked as INTERNAL (a bug, the database away);
- `success` otherwise.
An operation that never executes (it does not parse, or fails validation, or its variables
do not coerce) counts once as `invalid`, with an empty field. A subscription counts once
when it starts, and the open-subscriptions gauge follows it until it ends; it is not timed.

Example: `strawberry.Schema(Query, extensions=[MaskUnexpectedErrors, RequestMetrics])`
(after the masking extension, so it sees the errors before they are masked).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from graphql import GraphQLError
from graphql import OperationDefinitionNode
from graphql import OperationType
from graphql import get_operation_ast
from strawberry.extensions import SchemaExtension

from slotgraph.graph.extensions import is_unexpected
from slotgraph.graph.root_results import start_operation
from slotgraph.graph.selections import fragments_of
from slotgraph.graph.selections import selected_fields
from slotgraph.observability.recorder import NO_RECORDER
from slotgraph.observability.recorder import Recorder

if TYPE_CHECKING:
    pass

SUCCESS = "success"
UNEXPECTED = "unexpected"
INVALID = "invalid"


class RequestMetrics(SchemaExtension):
    """Report each operation to the context's `services.metrics` (module docstring)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        results = start_operation()
        self._executed = False
        self._subscribed = False
        try:
            yield
        finally:
            recorder = self._recorder()
            if self._subscribed:
                recorder.subscriptions_open(-1)
            else:
                self._record(recorder, results, time.perf_counter() - started)

    def on_execute(self) -> Iterator[None]:
        self._executed = True
        yield
        operation = self._operation()
        if operation is not None and operation.operation is OperationType.SUBSCRIPTION:
            recorder = self._recorder()
            for _, name in self._root_fields(operation):
                recorder.graphql_request(operation.operation.value, name, SUCCESS, None)
            recorder.subscriptions_open(1)
            self._subscribed = True

    def _recorder(self) -> Recorder:
        services = getattr(self.execution_context.context, "services", None)
        recorder: Recorder = getattr(services, "metrics", NO_RECORDER)
        return recorder

    def _operation(self) -> OperationDefinitionNode | None:
        document = self.execution_context.graphql_document
        if document is None:
            return None
        return get_operation_ast(document, self.execution_context.operation_name)

    def _record(self, recorder: Recorder, results: dict[str, str], seconds: float) -> None:
        operation = self._operation()
        kind = "unknown" if operation is None else operation.operation.value
        result = self.execution_context.result
        errors: list[GraphQLError] = list(getattr(result, "errors", None) or ())
        if (
            operation is None
            or not self._executed
            or result is None
            or (getattr(result, "data", None) is None and not any(e.path for e in errors))
        ):
            recorder.graphql_request(kind, "", INVALID, None)
            return
        for key, name in self._root_fields(operation):
            outcome = results.get(key) or _error_result(e for e in errors if _under(e, key))
            recorder.graphql_request(kind, name, outcome, seconds)

    def _root_fields(self, operation: OperationDefinitionNode) -> list[tuple[str, str]]:
        """(response key, field name) of each root field, fragments at the root followed."""
        fragments = fragments_of(self.execution_context.graphql_document)
        found: dict[str, str] = {}
        for selection, _root in selected_fields(operation, fragments, nested=False):
            found.setdefault((selection.alias or selection.name).value, selection.name.value)
        return list(found.items())


def _under(error: GraphQLError, key: str) -> bool:
    return error.path is not None and bool(error.path) and error.path[0] == key


def _error_result(errors: Iterator[GraphQLError]) -> str:
    """A root field's result from the errors under it (none: success)."""
    codes = []
    for error in errors:
        if is_unexpected(error):
            return UNEXPECTED
        code = (error.extensions or {}).get("code")
        codes.append(str(code) if code else UNEXPECTED)
    return codes[0] if codes else SUCCESS
