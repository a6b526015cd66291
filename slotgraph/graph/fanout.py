"""Grouped fan-out (issue 15, C49): one execution and one serialised `next` payload per
result for this process's subscribers that ask the same thing as the same caller.

Without it graphql-core executes every subscriber's selection set on its own, which costs
about sixteen times the websocket send per delivered event (BENCHMARKS.md, fan-out). A
group is keyed by the document, the variables (the time zone among them), the operation
name and the credential (`credential_of`: anonymous, or the viewer's user and token, so one
viewer's `bookingEvents` or `syncStatus` never reach another's socket and a revoked token,
C23, ends only its own group). Per subscriber the work is the send, with its own operation
id spliced in front of the shared payload.

Late joiners. Until a group's first frame everyone who asks joins it. After it, frames may
be deltas (`availabilityChanged` sends the days that changed), so a subscriber arriving
then cannot just take the next frame. The stream's resolver says through the group's
`LateJoins` (`late_joins()`, `slotgraph.usecases.subscriptions.LateJoins`) how one gets
in: by a snapshot (the joiner waits in `pending` until the stream yields the frame it
marks for joiners, computed afresh, then takes every frame after it, like the others), or
immediately. A stream that says neither keeps the earlier rule: a late joiner opens the
next group of the key (a cohort) with its own execution. Executions per change: one per
group, so one per key with every resolver of ours.

Slow consumers. Delivering never waits: each member has its own backlog, sent by its own
operation task. A member whose backlog reaches `MAX_BACKLOG` frames (its socket does not
drain) gives them up: in a group that answers late joiners by a snapshot it rejoins as one
(its next frame is a fresh snapshot, so nothing it shows is lost, only intermediate
states); otherwise its subscription ends with an `error` message saying to subscribe
again. Either way a member holds at most `MAX_BACKLOG` frames, the frames themselves are
shared by the whole group, and no other member waits for it.

Hand-rolled because neither Strawberry nor graphql-core shares executions between
operations; the Strawberry internals the wrapper uses are pinned by
tests/server/test_strawberry_fanout_seam.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
from collections import deque
from collections.abc import AsyncGenerator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Hashable
from typing import Any
from typing import Literal

from strawberry.types.execution import ExecutionResult
from strawberry.types.execution import PreExecutionError

from slotgraph.usecases.subscriptions import LateJoins

# (query, canonical variables, operation name, credential)
GroupKey = tuple[str, str, str | None, Hashable]
# What a member is handed, in order:
# ("next", payload JSON); ("first", the raw first result: a pre-execution error or an
# incremental result, answered as Strawberry does); ("end", None): the stream ended;
# ("rejoin", None): the stream ended before this late joiner's first frame, join again;
# ("overflow", None): the backlog overflowed in a group that cannot resync it.
Kind = Literal["next", "first", "end", "rejoin", "overflow"]
Item = tuple[Kind, Any]
StreamFactory = Callable[[], Awaitable[AsyncGenerator[Any, None]]]

MAX_BACKLOG = 32  # frames a member may have waiting before it gives them up (see above)

_late_joins: contextvars.ContextVar[LateJoins | None] = contextvars.ContextVar(
    "slotgraph_fanout_late_joins", default=None
)


def late_joins() -> LateJoins | None:
    """The running group's door for late joiners, for its resolver to pass to its use case
    (None outside grouped fan-out, or with late joins turned off). Set in the group's task,
    where the resolver's generator runs."""
    return _late_joins.get()


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


class Member:
    """One subscriber of a group: the items it has still to send, in order."""

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._ready = asyncio.Event()

    def put(self, item: Item) -> None:
        self._items.append(item)
        self._ready.set()

    def drop_backlog(self) -> None:
        self._items.clear()

    @property
    def backlog(self) -> int:
        return len(self._items)

    async def get(self) -> Item:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class Group:
    """One execution shared by its members; see the module docstring for who may join."""

    def __init__(
        self,
        key: GroupKey,
        stream: StreamFactory,
        on_closed: Callable[[Group], None],
        late_joins: bool = True,
    ):
        self.key = key
        self.members: set[Member] = set()
        self.pending: set[Member] = set()  # late joiners waiting for their first frame
        self.joins = LateJoins()
        self.started = False  # the first frame went out
        self.open = True  # may take members
        self._late_joins = late_joins
        self._on_closed = on_closed
        self._stream = stream
        self.task = asyncio.create_task(self._run(), name="fanout-group")

    @property
    def joinable(self) -> bool:
        return self.open and (not self.started or self.joins.mode is not None)

    def add(self, member: Member) -> None:
        if not self.started or self.joins.mode == "immediate":
            self.members.add(member)
        else:
            self.pending.add(member)
            self.joins.request()

    async def _run(self) -> None:
        if self._late_joins:
            _late_joins.set(self.joins)  # this task's context only: the resolver reads it
        try:
            source = await self._stream()
            async with contextlib.aclosing(source):
                async for result in source:
                    for_joiners = self.joins.take_answer()
                    if not isinstance(result, ExecutionResult) or (
                        not self.started and isinstance(result, PreExecutionError)
                    ):
                        self._deliver(self.members | self.pending, ("first", result))
                        return
                    item: Item = ("next", payload_json(result))
                    if for_joiners:
                        joiners, self.pending = self.pending, set()
                        self._deliver(joiners, item)
                        self.members |= joiners
                    else:
                        self._deliver(self.members, item)
                    if not self.started:
                        self.started = True
                        if self.joins.mode is None:
                            self._close()
        finally:
            self._close()
            self._deliver(self.members, ("end", None))
            self._deliver(self.pending, ("rejoin", None))

    def _deliver(self, members: set[Member], item: Item) -> None:
        for member in list(members):
            if member.backlog < MAX_BACKLOG or item[0] != "next":
                member.put(item)
                continue
            member.drop_backlog()
            self.members.discard(member)
            if self.joins.mode == "snapshot" and self.open:
                self.pending.add(member)  # its next frame: a fresh snapshot
                self.joins.request()
            else:
                member.put(("overflow", None))

    def _close(self) -> None:
        if self.open:
            self.open = False
            self._on_closed(self)

    def leave(self, member: Member) -> None:
        self.members.discard(member)
        self.pending.discard(member)
        if not self.members and not self.pending:
            self._close()  # no joiner may come in while the task is being cancelled
            self.task.cancel()


class FanoutGroups:
    """This process's groups open to joiners, one per key (closed groups live on in their
    members). `late_joins=False` keeps the earlier rule of one cohort per first frame (for
    before/after benchmarks: `SLOTGRAPH_FANOUT_LATE_JOINS=false`)."""

    def __init__(self, late_joins: bool = True) -> None:
        self._open: dict[GroupKey, Group] = {}
        self._late_joins = late_joins
        self.executions_started = 0

    def join(self, key: GroupKey, stream: StreamFactory) -> tuple[Group, Member]:
        group = self._open.get(key)
        if group is None or not group.joinable:
            if group is not None:
                group._close()
            group = Group(key, stream, self._closed, self._late_joins)
            self._open[key] = group
            self.executions_started += 1
        member = Member()
        group.add(member)
        return group, member

    def _closed(self, group: Group) -> None:
        if self._open.get(group.key) is group:
            del self._open[group.key]

    @property
    def group_count(self) -> int:
        return len(self._open)
