"""`NotFound.field` names an input the caller sent, for every operation that can answer it:
the walk below reads the schema, calls each query and mutation whose result can be
`NotFound` with ids (of every node type) and slugs that match nothing, over HTTP as a host
holding every scope, and checks that the `field` of each `NotFound` is the path of one of
that operation's arguments or input fields (`pageSlug`, `connections.connectionId`), the
top-level `input` left out as the error convention writes it."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLArgument
from graphql import GraphQLEnumType
from graphql import GraphQLField
from graphql import GraphQLInputField
from graphql import GraphQLInputObjectType
from graphql import GraphQLInputType
from graphql import GraphQLList
from graphql import GraphQLNonNull
from graphql import GraphQLObjectType
from graphql import GraphQLScalarType
from graphql import GraphQLSchema
from graphql import GraphQLUnionType
from graphql import build_schema

from slotgraph.server.cli import schema_sdl
from tests.helpers.accounts import Factory
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import next_monday

UNKNOWN_PK = 987_654_321


def unknown_id(type_name: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{UNKNOWN_PK}".encode()).decode()


def unwrap(kind: Any) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def value_for(kind: GraphQLInputType, name: str, id_value: str, depth: int = 0) -> Any:
    """A value of the type that is valid in form but names nothing that exists."""
    if isinstance(kind, GraphQLNonNull):
        return value_for(kind.of_type, name, id_value, depth)
    if isinstance(kind, GraphQLList):
        return [value_for(kind.of_type, name, id_value, depth)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        return {
            field_name: value_for(field.type, field_name, id_value, depth + 1)
            for field_name, field in kind.fields.items()
            if depth < 3 and (isinstance(field.type, GraphQLNonNull) or mentions_id(field.type))
        }
    assert isinstance(kind, GraphQLScalarType)
    start = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    match kind.name:
        case "ID":
            return id_value
        case "DateTime":
            return (start + dt.timedelta(days=1) if "end" in name.lower() else start).isoformat()
        case "Date":
            return start.date().isoformat()
        case "Int":
            return 30
        case "Float":
            return 1.0
        case "Boolean":
            return True
        case _:
            return {
                "pageSlug": "nobody/nothing",
                "slug": "nobody/nothing",
                "manageToken": "sgm_" + "x" * 43,
                "timeZone": "UTC",
                "email": "nobody@example.test",
            }.get(name, "nothing")


def mentions_id(kind: Any) -> bool:
    """Whether an optional input carries an id somewhere (sent too, so its lookup runs)."""
    inner = unwrap(kind)
    if isinstance(inner, GraphQLScalarType):
        return inner.name == "ID"
    if isinstance(inner, GraphQLInputObjectType):
        return any(mentions_id(field.type) for field in inner.fields.values())
    return False


def paths(arguments: dict[str, GraphQLArgument] | dict[str, GraphQLInputField]) -> Iterator[str]:
    """Every dotted path of argument and input-field names, lists looked through."""
    for name, argument in arguments.items():
        yield name
        inner = unwrap(argument.type)
        if isinstance(inner, GraphQLInputObjectType):
            for below in paths(inner.fields):
                yield f"{name}.{below}"


def allowed_fields(field: GraphQLField) -> set[str]:
    found = set(paths(field.args))
    return found | {path.removeprefix("input.") for path in found}


def operations(schema: GraphQLSchema) -> Iterator[tuple[str, str, GraphQLField]]:
    for keyword, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert root is not None
        for name, field in root.fields.items():
            result = unwrap(field.type)
            if isinstance(result, GraphQLUnionType) and any(
                member.name == "NotFound" for member in result.types
            ):
                yield keyword, name, field


def document(keyword: str, name: str, field: GraphQLField) -> str:
    variables = ", ".join(f"${arg}: {argument.type}" for arg, argument in field.args.items())
    passed = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    header = f"({variables})" if variables else ""
    call = f"({passed})" if passed else ""
    return (
        f"{keyword} Walk{header} {{ {name}{call} {{ __typename "
        "... on Error { field message } } }"
    )


async def test_every_not_found_names_an_input_the_caller_sent(
    gql: GraphQLClient, factory: Factory
) -> None:
    schema = build_schema(schema_sdl())
    node_types = sorted(
        type_.name
        for type_ in schema.type_map.values()
        if isinstance(type_, GraphQLObjectType)
        and any(interface.name == "Node" for interface in type_.interfaces)
    )
    ada = await factory.person(url_prefix="ada", name="Ada")
    walked = list(operations(schema))
    assert len(walked) > 15, [name for _, name, _ in walked]
    answered_not_found: set[str] = set()
    wrong: set[tuple[str, str | None]] = set()
    for keyword, name, field in walked:
        allowed = allowed_fields(field)
        for type_name in ["Nothing", *node_types]:
            id_value = unknown_id(type_name)
            variables = {
                arg: value_for(argument.type, arg, id_value) for arg, argument in field.args.items()
            }
            result = await gql(document(keyword, name, field), variables, token=ada.token)
            assert "errors" not in result, (name, variables, result)
            answer = result["data"][name]
            if answer["__typename"] != "NotFound":
                continue
            answered_not_found.add(name)
            if answer["field"] not in allowed:
                wrong.add((name, answer["field"]))
    assert wrong == set(), sorted(wrong, key=str)
    never = {name for _, name, _ in walked} - answered_not_found
    assert never == set(), f"these never answered NotFound, so were not checked: {never}"
