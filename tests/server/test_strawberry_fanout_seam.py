"""The Strawberry internals grouped fan-out (issue 15 part 2) will wrap, pinned (C49).

Grouped fan-out overrides `BaseGraphQLTransportWSHandler.run_operation` and sends one
pre-serialised `next` frame per group through the ASGI adapter's Starlette websocket. These
tests fail loudly when an upgrade of strawberry-graphql changes any of what that relies on.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.schema.base import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)


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
