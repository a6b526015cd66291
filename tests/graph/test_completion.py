"""Completed once (`slotgraph.graph.completion`): an object carrying a `CompletionMemo` is
completed once per selection and variables; another selection, other variables or a
completion that raised an error get their own data. The graphql-core method it overrides is
pinned here, so an upgrade that changes it fails loudly."""

from __future__ import annotations

import dataclasses
import inspect

import strawberry
from graphql.execution.executor import CollectedErrors
from graphql.execution.executor import Executor
from graphql.execution.values import VariableValues
from strawberry.extensions import ParserCache

from slotgraph.graph.completion import MAX_SELECTIONS
from slotgraph.graph.completion import CompletingOnce
from slotgraph.graph.completion import CompletionMemo


@strawberry.type
class Shared:
    name: str
    calls: strawberry.Private[list[str]]
    fail: strawberry.Private[list[bool]]
    completion_memo: strawberry.Private[CompletionMemo] = dataclasses.field(
        default_factory=CompletionMemo
    )

    @strawberry.field
    def counted(self) -> int:
        self.calls.append("counted")
        return len(self.calls)

    @strawberry.field
    def flaky(self) -> str | None:
        if self.fail[0]:
            raise ValueError("not now")
        return "fine"


def schema_sharing(shared: Shared) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def shared(self) -> Shared:
            return shared

    # The parser cache hands the same nodes to every request with the same document, as
    # the application's schema does (`AnsweredParserCache`).
    return strawberry.Schema(
        query=Query,
        extensions=[lambda: ParserCache(maxsize=10)],
        execution_context_class=CompletingOnce,
    )


def shared_object() -> Shared:
    return Shared(name="page", calls=[], fail=[False])


async def test_the_same_selection_is_completed_once() -> None:
    shared = shared_object()
    schema = schema_sharing(shared)

    first = await schema.execute("{ shared { name counted } }")
    second = await schema.execute("{ shared { name counted } }")

    assert first.data == second.data == {"shared": {"name": "page", "counted": 1}}
    assert shared.calls == ["counted"]
    assert shared.completion_memo.hits == 1


async def test_another_selection_or_other_variables_get_their_own_data() -> None:
    shared = shared_object()
    schema = schema_sharing(shared)
    with_flag = "query($on: Boolean!) { shared { name counted @include(if: $on) } }"

    assert (await schema.execute("{ shared { name } }")).data == {"shared": {"name": "page"}}
    on = await schema.execute(with_flag, variable_values={"on": True})
    off = await schema.execute(with_flag, variable_values={"on": False})
    on_again = await schema.execute(with_flag, variable_values={"on": True})

    assert on.data == on_again.data == {"shared": {"name": "page", "counted": 1}}
    assert off.data == {"shared": {"name": "page"}}
    assert shared.completion_memo.hits == 1


async def test_a_completion_with_an_error_is_not_kept() -> None:
    shared = shared_object()
    schema = schema_sharing(shared)
    shared.fail[0] = True

    failed = await schema.execute("{ shared { name flaky } }")
    shared.fail[0] = False
    fine = await schema.execute("{ shared { name flaky } }")

    assert failed.data == {"shared": {"name": "page", "flaky": None}}
    assert [error.message for error in failed.errors or []] == ["not now"]
    assert fine.data == {"shared": {"name": "page", "flaky": "fine"}}
    assert fine.errors is None


async def test_new_documents_beyond_the_bound_are_answered_but_not_kept() -> None:
    shared = shared_object()
    schema = schema_sharing(shared)

    for index in range(MAX_SELECTIONS + 2):
        result = await schema.execute(f"{{ shared {{ name alias{index}: name }} }}")
        assert result.data == {"shared": {"name": "page", f"alias{index}": "page"}}

    assert len(shared.completion_memo.completed) == MAX_SELECTIONS


def test_the_overridden_graphql_core_method_keeps_its_shape() -> None:
    # C49's rule for pinned internals: CompletingOnce overrides this method with these
    # parameters and reads `collected_errors.errors` and `variable_values.coerced`.
    parameters = list(inspect.signature(Executor.complete_object_value).parameters)
    assert parameters == [
        "self",
        "return_type",
        "field_details_list",
        "info",
        "path",
        "result",
        "position_context",
    ]
    assert issubclass(CompletingOnce, Executor)
    assert "self.collected_errors = CollectedErrors()" in inspect.getsource(Executor.__init__)
    assert "errors" in dir(CollectedErrors)
    assert "coerced" in VariableValues._fields
