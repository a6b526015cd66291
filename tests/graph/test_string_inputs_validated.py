"""Bad text never reaches the database or the OS as it came: every string the schema takes
(an argument or an input field, at any depth, of String, ID or a custom scalar, on queries,
mutations and subscriptions) is found by introspecting the schema, and each is sent
generated unsafe text (NUL, unpaired surrogates as JSON `\\ud800` escapes, control
characters, absurd lengths) over real HTTP and a real graphql-transport-ws socket.

The answer is never INTERNAL nor a 500: a mutation answers its union's `ValidationError`
naming the input, a query or subscription a request error with `extensions` `code`
VALIDATION and `field` (a subscription as the protocol's `error` message). A custom scalar
in a mutation's input may instead fail the scalar's own coercion, a request error too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import GraphQLEnumType
from graphql import GraphQLField
from graphql import GraphQLInputObjectType
from graphql import GraphQLInputType
from graphql import GraphQLInterfaceType
from graphql import GraphQLList
from graphql import GraphQLNonNull
from graphql import GraphQLObjectType
from graphql import GraphQLScalarType
from graphql import GraphQLSchema
from graphql import GraphQLUnionType
from graphql import Undefined
from graphql import build_schema
from graphql import get_named_type
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from slotgraph.server.app import create_app
from slotgraph.server.cli import schema_sdl
from slotgraph.server.settings import Settings
from tests.helpers.live import serve_in_thread

NOT_TEXT = {"Int", "Float", "Boolean"}
DUMMIES: dict[str, Any] = {
    "String": "x",
    "ID": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "Date": "2030-01-07",
    "DateTime": "2030-01-07T10:00:00Z",
}
GUARD = 10  # seconds; a guard against hanging, never a measurement


@dataclass(frozen=True)
class Position:
    """One place a string enters: `argument` of the field at the end of `path`, and
    `steps` into its value (input field names, "0" for a list item)."""

    operation: str
    path: tuple[tuple[str, str | None], ...]  # (field, type condition to reach it)
    fields: tuple[GraphQLField, ...]
    argument: str
    steps: tuple[str, ...]
    scalar: str

    @property
    def field(self) -> str:
        """The name the answer gives the input (the use cases' convention)."""
        head = () if self.argument == "input" else (self.argument,)
        return ".".join((*head, *self.steps))

    def request(self, text: str) -> tuple[str, dict[str, Any]]:
        """The operation sending `text` here, and its variables."""
        variables: dict[str, Any] = {}
        declared: list[str] = []
        selection = ""
        for depth in reversed(range(len(self.path))):
            name, condition = self.path[depth]
            field = self.fields[depth]
            arguments = []
            for arg_name, arg in field.args.items():
                target = depth == len(self.path) - 1 and arg_name == self.argument
                if not target and not isinstance(arg.type, GraphQLNonNull):
                    continue
                variable = f"v{depth}_{arg_name}"
                declared.append(f"${variable}: {arg.type}")
                arguments.append(f"{arg_name}: ${variable}")
                variables[variable] = (
                    build(arg.type, self.steps, text) if target else dummy(arg.type)
                )
            inner = selection or self.leaf_selection(field)
            call = f"{name}({', '.join(arguments)})" if arguments else name
            selection = f"{call}{inner}"
            if condition is not None:
                selection = f"... on {condition} {{ {selection} }}"
            selection = f" {{ {selection} }}" if depth else selection
        head = f"{self.operation}({', '.join(declared)})" if declared else self.operation
        return f"{head} {{ {selection} }}", variables

    def leaf_selection(self, field: GraphQLField) -> str:
        named = get_named_type(field.type)
        if not isinstance(named, GraphQLObjectType | GraphQLUnionType | GraphQLInterfaceType):
            return ""
        if self.operation == "mutation":
            return " { __typename ... on Error { field code } }"
        return " { __typename }"


def unwrap(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def dummy(type_: GraphQLInputType) -> Any:
    """A plausible value for a required input the test does not aim at."""
    inner = unwrap(type_)
    if isinstance(inner, GraphQLList):
        return []
    if isinstance(inner, GraphQLInputObjectType):
        return {
            name: dummy(field.type)
            for name, field in inner.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    if isinstance(inner, GraphQLEnumType):
        return next(iter(inner.values))
    return DUMMIES.get(inner.name, "x")


def build(type_: GraphQLInputType, steps: tuple[str, ...], text: str) -> Any:
    """The value of type `type_` carrying `text` at `steps`, required fields filled."""
    inner = unwrap(type_)
    if isinstance(inner, GraphQLList):
        return [build(inner.of_type, steps[1:], text)]
    if isinstance(inner, GraphQLInputObjectType):
        value = dummy(inner)
        value[steps[0]] = build(inner.fields[steps[0]].type, steps[1:], text)
        return value
    return text


def text_leaves(
    type_: GraphQLInputType, steps: tuple[str, ...], seen: frozenset[str]
) -> Iterator[tuple[tuple[str, ...], str]]:
    inner = unwrap(type_)
    if isinstance(inner, GraphQLList):
        yield from text_leaves(inner.of_type, (*steps, "0"), seen)
    elif isinstance(inner, GraphQLInputObjectType) and inner.name not in seen:
        for name, field in inner.fields.items():
            yield from text_leaves(field.type, (*steps, name), seen | {inner.name})
    elif isinstance(inner, GraphQLScalarType) and inner.name not in NOT_TEXT:
        yield steps, inner.name


def positions(schema: GraphQLSchema) -> list[Position]:
    """Every text input of every field reachable from the roots (each field once, by its
    shortest path)."""
    found: list[Position] = []
    done: set[tuple[str, str]] = set()
    roots = [
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
        ("subscription", schema.subscription_type),
    ]
    for operation, root in roots:
        assert root is not None
        queue: list[tuple[GraphQLObjectType, tuple[Any, ...], tuple[Any, ...], str | None]] = [
            (root, (), (), None)
        ]
        while queue:
            parent, path, fields, condition = queue.pop(0)
            for name, field in parent.fields.items():
                if (parent.name, name) in done:
                    continue
                done.add((parent.name, name))
                here = ((*path, (name, condition)), (*fields, field))
                for arg_name, arg in field.args.items():
                    for steps, scalar in text_leaves(arg.type, (), frozenset()):
                        found.append(Position(operation, *here, arg_name, steps, scalar))
                if operation == "subscription" and not path:
                    continue  # a subscription's result types are reached from the query
                named = get_named_type(field.type)
                members = (
                    [(named, None)]
                    if isinstance(named, GraphQLObjectType)
                    else [(member, member.name) for member in named.types]
                    if isinstance(named, GraphQLUnionType)
                    else []
                )
                queue.extend((member, *here, cond) for member, cond in members)
    return found


SCHEMA = build_schema(schema_sdl())
POSITIONS = positions(SCHEMA)
HTTP_POSITIONS = [p for p in POSITIONS if p.operation != "subscription"]
WS_POSITIONS = [p for p in POSITIONS if p.operation == "subscription"]

# What the generated text contains somewhere: one character no input may carry.
UNSAFE_CHARS = st.one_of(
    st.sampled_from(["\x00", "\ud800", "\udfff", "\x1b", "\x7f", "\x85"]),
    st.characters(categories=["Cc", "Cs"], exclude_characters="\t\n\r"),
)


@st.composite
def unsafe_text(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from("ax/")) * draw(st.integers(10_001, 12_000))
    around = draw(st.text(max_size=12))
    cut = draw(st.integers(0, len(around)))
    return around[:cut] + draw(UNSAFE_CHARS) + around[cut:]


@pytest.fixture(scope="module")
def live(settings: Settings, database_url: str, engine: AsyncEngine) -> Iterator[str]:
    """The app on the migrated test database (`engine`), served on loopback."""
    app = create_app(settings.model_copy(update={"db_pool_size": 2}), database_url)
    with serve_in_thread(app) as base:
        yield base


def test_the_schema_takes_text_in_every_root() -> None:
    """The survey itself: a schema change that hid every input from it would pass the
    properties below vacuously."""
    kinds = {(p.operation, p.scalar) for p in POSITIONS}
    assert {("query", "String"), ("query", "ID"), ("mutation", "String")} <= kinds
    assert {("mutation", "DateTime"), ("subscription", "String")} <= kinds
    nested = {p.path[-1][0] for p in POSITIONS if len(p.path) > 1}
    assert "schedulingPages" in nested  # `after` cursors of the viewer's lists


def assert_refused(position: Position, status: int, body: dict[str, Any]) -> None:
    assert status == 200, body
    errors = body.get("errors") or []
    assert all(e.get("extensions", {}).get("code") != "INTERNAL" for e in errors), body
    if position.operation == "mutation" and position.scalar in {"String", "ID"}:
        assert body.get("data"), (position, body)
        answer = body["data"][position.path[0][0]]
        expected = {"__typename": "ValidationError", "field": position.field}
        assert answer == {**expected, "code": "VALIDATION"}, (position, body)
    elif position.operation != "mutation":
        assert errors, body
        expected_extensions = {"code": "VALIDATION", "field": position.field}
        assert errors[0].get("extensions") == expected_extensions, (position, body)
    else:
        assert errors, body  # the custom scalar refused the value itself


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=unsafe_text())
@example(text="a\x00b")
@example(text="\ud800")
@example(text="Europe/" + "x" * 10_000)
@example(text="line\x1bfeed")
def test_unsafe_text_in_any_string_input_is_a_typed_validation_error(live: str, text: str) -> None:
    with httpx.Client(base_url=live, timeout=GUARD, trust_env=False) as client:
        for position in HTTP_POSITIONS:
            query, variables = position.request(text)
            response = client.post(
                "/graphql",
                # ASCII escapes: a lone surrogate travels as `\ud800`, as a browser sends it.
                content=json.dumps({"query": query, "variables": variables}),
                headers={"content-type": "application/json"},
            )
            assert_refused(position, response.status_code, response.json())


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=unsafe_text())
@example(text="a\x00b")
@example(text="\udfff")
def test_unsafe_text_in_a_subscription_is_an_error_message(live: str, text: str) -> None:
    url = live.replace("http://", "ws://") + "/graphql"
    with connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=GUARD
    ) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(socket.recv(timeout=GUARD))["type"] == "connection_ack"
        for index, position in enumerate(WS_POSITIONS):
            query, variables = position.request(text)
            payload = {"query": query, "variables": variables}
            socket.send(json.dumps({"id": str(index), "type": "subscribe", "payload": payload}))
            message = json.loads(socket.recv(timeout=GUARD))
            assert message["type"] == "error", (position, message)
            assert message["id"] == str(index)
            extensions = message["payload"][0].get("extensions")
            assert extensions == {"code": "VALIDATION", "field": position.field}, message


ZONE_POSITIONS = [p for p in HTTP_POSITIONS if (p.steps or (p.argument,))[-1] == "timeZone"]


@pytest.mark.parametrize(
    "zone", ["x" * 300, "Europe/" + "y" * 250, "../" * 80 + "UTC"], ids=["long", "deep", "path"]
)
def test_a_time_zone_name_too_long_for_a_file_name_is_never_internal(live: str, zone: str) -> None:
    """Under the text limit but past a file name's: zoneinfo's OSError never surfaces."""
    assert {p.path[0][0] for p in ZONE_POSITIONS} >= {"availableSlots", "bookMeeting"}
    with httpx.Client(base_url=live, timeout=GUARD, trust_env=False) as client:
        for position in ZONE_POSITIONS:
            query, variables = position.request(zone)
            response = client.post("/graphql", json={"query": query, "variables": variables})
            assert response.status_code == 200
            assert "INTERNAL" not in response.text, (position, response.text)
        slots = next(p for p in ZONE_POSITIONS if p.path[0][0] == "availableSlots")
        query, variables = slots.request(zone)
        variables["v0_pageSlug"] = "nobody/none"
        answer = client.post("/graphql", json={"query": query, "variables": variables}).json()
    assert answer["data"]["availableSlots"] == {"__typename": "ValidationError"}
