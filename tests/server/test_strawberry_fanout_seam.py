"""The Strawberry internals grouped fan-out (issue 15 part 2) wraps, pinned (C49).

Grouped fan-out (`slotgraph.server.grouped_ws`) overrides
`BaseGraphQLTransportWSHandler.run_operation` and sends one pre-serialised `next` frame per
group through the ASGI adapter's Starlette websocket. These tests fail loudly when an
upgrade of strawberry-graphql changes any of what that relies on, private names included:
`_OperationStreamClosed`, `_handle_pre_execution_error`, `_reject_incremental_delivery`,
the handler's attributes set in `__init__` and the adapter's `ws`.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.schema.base import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws import handlers
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation
from strawberry.types.execution import ExecutionResult
from strawberry.types.execution import PreExecutionError


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_strawberry_is_the_pinned_version() -> None:
    assert version("strawberry-graphql").startswith("0.341."), (
        "grouped fan-out wraps Strawberry 0.341 internals (C49): re-read "
        "graphql_transport_ws/handlers.py and update slotgraph's wrapper before upgrading"
    )


def test_the_handler_methods_fan_out_wraps_keep_their_shape() -> None:
    assert _parameters(BaseGraphQLTransportWSHandler.run_operation) == ["self", "operation"]
    assert _parameters(BaseGraphQLTransportWSHandler.handle_subscribe) == ["self", "message"]
    assert _parameters(BaseGraphQLTransportWSHandler.cleanup_operation) == [
        "self",
        "operation_id",
    ]
    assert _parameters(BaseGraphQLTransportWSHandler.forget_id) == ["self", "id"]


def test_an_operation_holds_what_a_group_key_is_built_from() -> None:
    assert _parameters(Operation.__init__) == [
        "self",
        "handler",
        "id",
        "query",
        "variables",
        "operation_name",
    ]
    assert {"id", "query", "variables", "operation_name", "completed", "task"} <= set(
        Operation.__slots__
    )
    assert callable(Operation.send_operation_message)


def test_the_schema_streams_with_the_arguments_the_handler_passes() -> None:
    assert _parameters(BaseSchema.stream)[:2] == ["self", "query"]
    assert {"variable_values", "context_value", "root_value", "operation_name"} <= set(
        _parameters(BaseSchema.stream)
    )


def test_the_asgi_adapter_exposes_the_starlette_websocket() -> None:
    assert _parameters(ASGIWebSocketAdapter.__init__) == ["self", "view", "request", "response"]
    assert "self.ws = response" in inspect.getsource(ASGIWebSocketAdapter.__init__)
    assert "WebSocketDisconnected" in inspect.getsource(ASGIWebSocketAdapter.send_json)
    assert _parameters(ASGIWebSocketAdapter.send_json) == ["self", "message"]


def test_the_private_names_the_wrapper_calls_are_there() -> None:
    """`run_operation`'s own error paths, which the wrapper reuses for a group's first
    result, and the exception that ends an operation by closing the socket."""
    assert issubclass(handlers._OperationStreamClosed, Exception)
    assert _parameters(BaseGraphQLTransportWSHandler._handle_pre_execution_error) == [
        "self",
        "operation",
        "result",
    ]
    assert _parameters(BaseGraphQLTransportWSHandler._reject_incremental_delivery) == [
        "self",
        "operation",
    ]
    source = inspect.getsource(BaseGraphQLTransportWSHandler._handle_pre_execution_error)
    assert "raise _OperationStreamClosed" in source
    assert "send_initial_errors" in source


def test_the_handler_keeps_what_the_wrapper_reads_from_it() -> None:
    source = inspect.getsource(BaseGraphQLTransportWSHandler.__init__)
    for attribute in ("view", "websocket", "context", "root_value", "schema", "operations"):
        assert f"self.{attribute} = " in source or f"self.{attribute}: " in source
    # an `error` or `complete` ends the operation and frees its id, as the wrapper expects
    sends = inspect.getsource(Operation.send_operation_message)
    assert "self.completed = True" in sends
    assert "forget_id" in sends


def test_a_pre_execution_error_is_an_execution_result() -> None:
    """The group tells a first result's pre-execution error from a result by this."""
    assert issubclass(PreExecutionError, ExecutionResult)
    assert {"data", "errors", "extensions"} <= set(inspect.signature(ExecutionResult).parameters)
