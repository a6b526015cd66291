"""Grouping rules of `slotgraph.graph.fanout` (issue 15, C49): who shares an execution."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from types import SimpleNamespace
from typing import Any

from strawberry.types.execution import ExecutionResult

from slotgraph.graph.fanout import MAX_BACKLOG
from slotgraph.graph.fanout import FanoutGroups
from slotgraph.graph.fanout import Group
from slotgraph.graph.fanout import Member
from slotgraph.graph.fanout import group_key
from slotgraph.graph.fanout import late_joins
from slotgraph.usecases.subscriptions import LateJoins

ADA = SimpleNamespace(user_id=1, token_id=10)
ADA_OTHER_TOKEN = SimpleNamespace(user_id=1, token_id=11)
BOB = SimpleNamespace(user_id=2, token_id=20)


def test_the_key_tells_documents_variables_names_and_callers_apart() -> None:
    base = group_key("subscription { a }", {"x": 1, "y": 2}, None, ADA)
    assert group_key("subscription { a }", {"y": 2, "x": 1}, None, ADA) == base
    assert group_key("subscription { a b }", {"x": 1, "y": 2}, None, ADA) != base
    assert group_key("subscription { a }", {"x": 2, "y": 2}, None, ADA) != base
    assert group_key("subscription { a }", {"x": 1, "y": 2}, "Named", ADA) != base
    assert group_key("subscription { a }", {"x": 1, "y": 2}, None, BOB) != base
    assert group_key("subscription { a }", {"x": 1, "y": 2}, None, ADA_OTHER_TOKEN) != base
    assert group_key("subscription { a }", {"x": 1, "y": 2}, None, None) != base


async def test_a_stream_that_takes_no_late_joiners_starts_a_new_group_after_its_first_frame() -> (
    None
):
    groups = FanoutGroups()
    release = asyncio.Event()

    async def results() -> AsyncGenerator[Any, None]:
        await release.wait()
        yield ExecutionResult(data={"a": 1}, errors=None)

    async def stream() -> AsyncGenerator[Any, None]:
        return results()

    key = group_key("subscription { a }", None, None, None)
    first, one = groups.join(key, stream)
    same, two = groups.join(key, stream)
    assert same is first
    assert groups.executions_started == 1
    release.set()
    assert await one.get() == ("next", '{"data":{"a":1}}')
    assert await two.get() == ("next", '{"data":{"a":1}}')
    late, three = groups.join(key, stream)  # after the first frame: its own execution
    assert late is not first
    assert groups.executions_started == 2
    assert await three.get() == ("next", '{"data":{"a":1}}')
    assert (await one.get())[0] == "end"
    await leave(first, one, two)
    await leave(late, three)


class Stream:
    """A resolver's stream the test drives: `send(data)` yields a result; `answer(data)`
    yields the late joiners' frame; the door (`LateJoins`) is claimed as `mode` says."""

    def __init__(self, mode: str | None) -> None:
        self.mode = mode
        self.items: asyncio.Queue[tuple[dict[str, Any] | None, bool]] = asyncio.Queue()
        self.requests = 0
        self.woken = asyncio.Event()
        self.joins: LateJoins | None = None

    async def stream(self) -> AsyncGenerator[Any, None]:
        return self.results()

    async def results(self) -> AsyncGenerator[Any, None]:
        self.joins = late_joins()  # None with late joins turned off
        if self.joins is not None and self.mode == "snapshot":
            self.joins.by_snapshot(self.woken.set)
        elif self.joins is not None and self.mode == "immediate":
            self.joins.immediately()
        while True:
            data, for_joiners = await self.items.get()
            if data is None:
                return
            if for_joiners and self.joins is not None:
                self.joins.answer()
            yield ExecutionResult(data=data, errors=None)

    def send(self, data: dict[str, Any] | None, for_joiners: bool = False) -> None:
        self.items.put_nowait((data, for_joiners))

    async def requested(self) -> None:
        """Until a late joiner asked for its frame (as the use case hears it)."""
        await asyncio.wait_for(self.woken.wait(), 5)
        self.woken.clear()
        assert self.joins is not None
        assert self.joins.take_request()


async def leave(group: Group, *members: Member) -> None:
    """Leave, and wait until the group's task is done (cancelled once the last has left)."""
    for member in members:
        group.leave(member)
    await asyncio.gather(group.task, return_exceptions=True)


async def next_item(member: Member) -> tuple[str, Any]:
    return await asyncio.wait_for(member.get(), 5)


def frame(value: int, snapshot: bool = False) -> str:
    return json.dumps({"data": data(value, snapshot)}, separators=(",", ":"))


def data(value: int, snapshot: bool = False) -> dict[str, Any]:
    return {"a": value, "snapshot": snapshot}


async def test_a_late_joiner_waits_for_its_own_snapshot_then_shares_the_next_change() -> None:
    groups, source = FanoutGroups(), Stream("snapshot")
    key = group_key("subscription { a }", {"zone": "UTC"}, None, None)
    group, early = groups.join(key, source.stream)
    source.send(data(1, snapshot=True))
    assert await next_item(early) == ("next", frame(1, snapshot=True))
    same, late = groups.join(key, source.stream)
    assert same is group
    assert late in group.pending
    await source.requested()
    source.send(data(2))  # the delta the current members need, read afresh
    source.send(data(2, snapshot=True), for_joiners=True)
    assert await next_item(early) == ("next", frame(2))
    assert await next_item(late) == ("next", frame(2, snapshot=True))
    source.send(data(3))  # the next change: one execution for both
    assert await next_item(early) == ("next", frame(3))
    assert await next_item(late) == ("next", frame(3))
    assert early.backlog == late.backlog == 0
    assert groups.executions_started == 1
    source.send(None)
    assert await next_item(early) == await next_item(late) == ("end", None)


async def test_a_late_joiner_of_a_stream_without_initial_state_takes_the_next_frame() -> None:
    groups, source = FanoutGroups(), Stream("immediate")
    key = group_key("subscription { events }", None, None, ADA)
    group, early = groups.join(key, source.stream)
    source.send(data(1))
    assert await next_item(early) == ("next", frame(1))
    assert groups.join(key, source.stream)[0] is group
    late = next(member for member in group.members if member is not early)
    source.send(data(2))
    assert await next_item(early) == await next_item(late) == ("next", frame(2))
    assert groups.executions_started == 1
    await leave(group, early, late)


async def test_a_late_joiner_whose_group_ends_before_its_snapshot_is_told_to_join_again() -> None:
    groups, source = FanoutGroups(), Stream("snapshot")
    key = group_key("subscription { a }", None, None, None)
    group, early = groups.join(key, source.stream)
    source.send(data(1, snapshot=True))
    await next_item(early)
    _, late = groups.join(key, source.stream)
    source.send(None)  # e.g. the page was deleted: the stream ends
    assert await next_item(early) == ("end", None)
    assert await next_item(late) == ("rejoin", None)
    again, member = groups.join(key, source.stream)
    assert again is not group
    await leave(again, member)


async def test_late_joins_turned_off_keep_one_cohort_per_first_frame() -> None:
    groups, source = FanoutGroups(late_joins=False), Stream(None)
    key = group_key("subscription { a }", None, None, None)
    group, early = groups.join(key, source.stream)
    source.send(data(1, snapshot=True))
    await next_item(early)
    assert source.joins is None
    late_group, late = groups.join(key, source.stream)
    assert late_group is not group
    await leave(group, early)
    await leave(late_group, late)


async def test_a_stalled_member_holds_a_bounded_backlog_then_resyncs_from_a_snapshot() -> None:
    """A socket that does not drain never holds more than MAX_BACKLOG frames, nor delays
    the others; once past it, the member's next frame is a fresh snapshot."""
    groups, source = FanoutGroups(), Stream("snapshot")
    key = group_key("subscription { a }", None, None, None)
    group, stalled = groups.join(key, source.stream)
    _, reader = groups.join(key, source.stream)
    changes = 3 * MAX_BACKLOG
    for value in range(changes):
        source.send(data(value))
        assert await next_item(reader) == ("next", frame(value))
        assert stalled.backlog <= MAX_BACKLOG
    assert stalled in group.pending
    assert stalled.backlog == 0
    await source.requested()
    source.send(data(changes, snapshot=True), for_joiners=True)
    assert await next_item(stalled) == ("next", frame(changes, snapshot=True))
    assert stalled in group.members
    assert reader.backlog == 0
    await leave(group, stalled, reader)


async def test_a_stalled_member_of_a_stream_that_cannot_resync_is_ended() -> None:
    groups, source = FanoutGroups(), Stream("immediate")
    key = group_key("subscription { events }", None, None, ADA)
    group, stalled = groups.join(key, source.stream)
    _, reader = groups.join(key, source.stream)
    for value in range(MAX_BACKLOG + 1):
        source.send(data(value))
        await next_item(reader)
    assert stalled.backlog == 1
    assert stalled not in group.members
    assert await next_item(stalled) == ("overflow", None)
    source.send(data(99))
    assert await next_item(reader) == ("next", frame(99))
    assert stalled.backlog == 0
    await leave(group, stalled, reader)
