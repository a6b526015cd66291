"""Grouping rules of `slotgraph.graph.fanout` (issue 15, C49): who shares an execution."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from types import SimpleNamespace
from typing import Any

from strawberry.types.execution import ExecutionResult

from slotgraph.graph.fanout import FanoutGroups, group_key

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


async def test_members_share_one_execution_until_the_first_frame_then_a_new_cohort() -> None:
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
    assert await one.items.get() == ("next", '{"data":{"a":1}}')
    assert await two.items.get() == ("next", '{"data":{"a":1}}')
    late, three = groups.join(key, stream)  # after the first frame: its own snapshot
    assert late is not first
    assert groups.executions_started == 2
    assert await three.items.get() == ("next", '{"data":{"a":1}}')
    assert (await one.items.get())[0] == "end"
    for group, member in ((first, one), (first, two), (late, three)):
        group.leave(member)
