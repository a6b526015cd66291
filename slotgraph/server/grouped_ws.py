"""The graphql-transport-ws handler whose subscriptions share executions by group
(`slotgraph.graph.fanout`, issue 15, C49).

It wraps Strawberry 0.341's `run_operation` only: `handle_subscribe` (its per-socket cap
and ours, C33/C34), the `operations` registry that `complete` and disconnects cancel, and
the pre-execution error handling stay Strawberry's. Mutations and queries over the socket
run as before: only subscription operations group. A member's backlog is bounded
(`slotgraph.graph.fanout.MAX_BACKLOG`): past it the member resyncs from a fresh snapshot,
or, in a stream that cannot resync, gets an `error` message and ends. The internals used
are pinned by tests/server/test_strawberry_fanout_seam.py.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING
from typing import Any

from graphql import OperationType
from graphql import get_operation_ast
from graphql import parse
from graphql.error import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import _OperationStreamClosed
from strawberry.types.execution import PreExecutionError

from slotgraph.graph.fanout import MAX_BACKLOG
from slotgraph.graph.fanout import FanoutGroups
from slotgraph.graph.fanout import Kind
from slotgraph.graph.fanout import Member
from slotgraph.graph.fanout import group_key
from slotgraph.server.limits import LimitedTransportWS

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

    from slotgraph.graph.context import Context


TOO_SLOW = GraphQLError(
    f"This subscription fell {MAX_BACKLOG} events behind (the socket is not reading): "
    "subscribe again."
)


@functools.lru_cache(maxsize=512)
def is_subscription(query: str, operation_name: str | None) -> bool:
    """Whether the document's chosen operation is a subscription (False when it does not
    parse: Strawberry's own path answers that error)."""
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation == OperationType.SUBSCRIPTION


class GroupedTransportWS(LimitedTransportWS):
    """Subscriptions join a group of this process's `FanoutGroups` (the view's
    `fanout_groups`; None turns grouping off, `SLOTGRAPH_FANOUT_GROUPING=false`)."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        groups: FanoutGroups | None = getattr(self.view, "fanout_groups", None)
        if groups is None or not is_subscription(operation.query, operation.operation_name):
            await super().run_operation(operation)
            return
        context, root_value, schema = self.context, self.root_value, self.schema

        async def stream() -> AsyncGenerator[Any, None]:
            return await schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=root_value,
                operation_name=operation.operation_name,
            )

        key = group_key(
            operation.query, operation.variables, operation.operation_name, context.viewer
        )
        prefix = '{"id":' + json.dumps(operation.id) + ',"type":"next","payload":'
        socket = self.websocket.ws  # type: ignore[attr-defined]
        while True:  # once more only when a late joiner's group ended before its first frame
            group, member = groups.join(key, stream)
            try:
                kind = await self._send_group(operation, member, socket, prefix)
            except _OperationStreamClosed:
                return
            finally:
                group.leave(member)
            if kind != "rejoin":
                return

    async def _send_group(
        self, operation: Operation[Context, None], member: Member, socket: Any, prefix: str
    ) -> Kind:
        """Send the member's frames until its group is done with it; answers how."""
        while True:
            kind, value = await member.get()
            if kind == "next":
                if operation.completed:
                    return "end"
                try:
                    await socket.send_text(prefix + value + "}")
                except Exception:  # the socket went away: Strawberry cleans up
                    return "end"
            elif kind == "first":
                if isinstance(value, PreExecutionError):
                    await self._handle_pre_execution_error(operation, value)
                else:
                    await self._reject_incremental_delivery(operation)
                return kind
            elif kind == "overflow":
                await operation.send_operation_message(
                    {"id": operation.id, "type": "error", "payload": [TOO_SLOW.formatted]}
                )
                return kind
            elif kind == "end":
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
                return kind
            else:
                return kind
