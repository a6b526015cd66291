"""Relay building blocks: global ids, the `Node` interface, cursors and connections.

Written out rather than taken from `strawberry.relay` because our lists paginate by keyset
in SQL (a cursor is a row id) and ids are plain attributes computed once per object, which
keeps hot leaf fields free of per-field resolvers (docs/environment.md, "GraphQL overhead").
"""

from __future__ import annotations

import base64
import binascii
from typing import Generic
from typing import TypeVar

import strawberry

from slotgraph import ids
from slotgraph.ids import from_global_id as from_global_id
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError

NodeT = TypeVar("NodeT")


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(ids.to_global_id(type_name, pk))


def pk_of(global_id: str, type_name: str) -> int | None:
    """The primary key if `global_id` names an object of `type_name`, else None."""
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]


@strawberry.interface(description="An object with a global id, refetchable via `node(id:)`.")
class Node:
    id: strawberry.ID


def to_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{pk}".encode()).decode()


def from_cursor(cursor: str | None) -> int | None:
    """The row id behind an `after` cursor; a cursor we did not issue is a typed error."""
    if cursor is None:
        return None
    try:
        kind, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        # A row id in bigint range: anything else would reach the database as it came.
        if kind == "cursor" and 0 < (row := int(pk)) < 2**63:
            return row
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise InvalidInput("`after` must be an `endCursor` this list returned.", field="after")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo

    @staticmethod
    def build(
        nodes: list[tuple[int, NodeT]], *, has_next_page: bool, has_previous_page: bool
    ) -> Connection[NodeT]:
        edges = [Edge(cursor=to_cursor(pk), node=node) for pk, node in nodes]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next_page,
                has_previous_page=has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


def require_pk(global_id: str, type_name: str, *, field: str, kind: str) -> int:
    """The primary key behind an input id, or NotFound naming the input field."""
    pk = pk_of(global_id, type_name)
    if pk is None:
        raise NotFoundError(kind, field=field)
    return pk
