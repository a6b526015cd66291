"""Schema extensions of our own: fresh loaders per operation and error masking that lets
expected errors through with a code while hiding everything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import structlog
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from slotgraph.graph.errors import error_code
from slotgraph.usecases.errors import DomainError

if TYPE_CHECKING:
    from slotgraph.graph.context import Context

log = structlog.get_logger("slotgraph.graphql")


class FreshLoaders(SchemaExtension):
    """Give each operation new DataLoaders.

    A websocket keeps one context for all its operations; without this, a subscription
    would serve objects cached by an earlier operation.

    Example: `strawberry.Schema(Query, extensions=[FreshLoaders])`
    """

    def on_operation(self) -> Iterator[None]:
        context: Context = self.execution_context.context
        context.reset_loaders()
        yield


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, (DomainError, GraphQLError))


class MaskUnexpectedErrors(MaskErrors):
    """Mask every error the client did not cause, log it with the request id, and give
    expected (domain) errors raised by query fields an `extensions.code` and `field`.

    Validation errors (unknown field, depth limit ...) have no original error and pass
    unchanged, since they describe the client's own query.

    Example: `strawberry.Schema(Query, extensions=[MaskUnexpectedErrors()])`
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not _is_expected(error))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        log.error(
            "unexpected error",
            request_id=getattr(context, "request_id", None),
            path=error.path,
            exc_info=error.original_error,
        )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL", "requestId": getattr(context, "request_id", None)}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            original = error.original_error
            if isinstance(original, DomainError):
                error.extensions = {"code": error_code(original), "field": original.field}
        return processed
