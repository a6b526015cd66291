"""Grouped fan-out (issue 15, C49): one execution and one serialised `next` payload per
result for this process's subscribers that ask the same thing as the same caller.

Without it graphql-core executes every subscriber's selection set on its own, which costs
about sixteen times the websocket send per delivered event (BENCHMARKS.md, fan-out). A
group is keyed by the document, the variables, the operation name and the credential
(`credential_of`: anonymous, or the viewer's user and token, so one viewer's
`bookingEvents` or `syncStatus` never reach another's socket and a revoked token, C23,
ends only its own group). Per subscriber the work is the send, with its own operation id
spliced in front of the shared payload.

Frames after the first may be deltas (`availabilityChanged` sends the days that changed),
so a subscriber may only join a group that has not sent its first frame yet: a later
joiner opens the next group of the key (a cohort) and gets its own snapshot. That is
correct by construction; the number of executions per change is the number of cohorts.

Hand-rolled because neither Strawberry nor graphql-core shares executions between
operations; the Strawberry internals the wrapper uses are pinned by
tests/server/test_strawberry_fanout_seam.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from strawberry.types.execution import ExecutionResult, PreExecutionError

# (query, canonical variables, operation name, credential)
GroupKey = tuple[str, str, str | None, Hashable]
# ("next", payload JSON) | ("first", the raw first result) | ("end", None)
Item = tuple[str, Any]
StreamFactory = Callable[[], Awaitable[AsyncGenerator[Any, None]]]


def credential_of(viewer: Any) -> Hashable:
    """What authorisation depends on: None for anonymous, else the user and the token."""
    if viewer is None:
        return None
    return (viewer.user_id, viewer.token_id)


def group_key(
    query: str, variables: dict[str, object] | None, operation_name: str | None, viewer: Any
) -> GroupKey:
    canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    return (query, canonical, operation_name, credential_of(viewer))


def payload_json(result: ExecutionResult) -> str:
    """The `next` payload as Strawberry's `Operation.send_next` builds it, encoded once."""
    payload: dict[str, object] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return json.dumps(payload, separators=(",", ":"))


@dataclass(eq=False)
class Member:
    """One subscriber of a group: the items it has still to send, in order."""

    items: asyncio.Queue[Item] = field(default_factory=asyncio.Queue)


class Group:
    """One execution shared by its members; open to joiners until its first frame."""

    def __init__(self, key: GroupKey, stream: StreamFactory, on_closed: Callable[[Group], None]):
        self.key = key
        self.members: set[Member] = set()
        self.open = True
        self._on_closed = on_closed
        self._stream = stream
        self.task = asyncio.create_task(self._run(), name="fanout-group")

    async def _run(self) -> None:
        try:
            source = await self._stream()
            async with contextlib.aclosing(source):
                first = True
                async for result in source:
                    if first:
                        self.open = False
                        self._on_closed(self)
                        if not isinstance(result, ExecutionResult) or isinstance(
                            result, PreExecutionError
                        ):
                            self._deliver(("first", result))
                            return
                        first = False
                    if not isinstance(result, ExecutionResult):
                        self._deliver(("first", result))
                        return
                    self._deliver(("next", payload_json(result)))
        finally:
            self.open = False
            self._on_closed(self)
            self._deliver(("end", None))

    def _deliver(self, item: Item) -> None:
        for member in self.members:
            member.items.put_nowait(item)

    def leave(self, member: Member) -> None:
        self.members.discard(member)
        if not self.members:
            self.task.cancel()


class FanoutGroups:
    """This process's open groups, one per key (closed groups live on in their members)."""

    def __init__(self) -> None:
        self._open: dict[GroupKey, Group] = {}
        self.executions_started = 0

    def join(self, key: GroupKey, stream: StreamFactory) -> tuple[Group, Member]:
        group = self._open.get(key)
        if group is None or not group.open:
            group = Group(key, stream, self._closed)
            self._open[key] = group
            self.executions_started += 1
        member = Member()
        group.members.add(member)
        return group, member

    def _closed(self, group: Group) -> None:
        if self._open.get(group.key) is group:
            del self._open[group.key]
