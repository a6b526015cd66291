"""From database rows to API objects: the two steps every object type repeats.

- `from_columns` builds an object whose fields show the row's columns under their own
  names, and whose `id` is the row's global id, so a type's `from_row` names only what it
  shows differently (a renamed or computed field). Written out a field at a time, every
  `from_row` repeated the column list the type's annotations already state. An input
  becomes a use case's draft the same way (createMeeting's `MeetingDraft`).
- `load_one` and `load_many` answer a related-object field through a DataLoader: the row or
  rows for a key, built into API objects; a missing key or row is null.

Usage::

    @classmethod
    def from_row(cls, row: TaskRow) -> Task:
        return from_columns(cls, row, contact_pk=row.contact_id)

    @strawberry.field
    async def contact(self, info: Info) -> Contact | None:
        return await load_one(info.context.loaders.contacts, self.contact_pk, Contact.from_row)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types.base import get_object_definition

from slotgraph.graph.relay import to_global_id

T = TypeVar("T")
RowT = TypeVar("RowT")
KeyT = TypeVar("KeyT")


@dataclasses.dataclass(frozen=True)
class _Shape:
    columns: tuple[str, ...]  # constructor fields to copy from same-named columns
    node_name: str | None  # the GraphQL type name, for a type with a global `id`
    has_pk: bool  # a private `pk`: the row's key


# Computed once per type, since lists build hundreds of objects.
_SHAPES: dict[type, _Shape] = {}


def _shape(cls: type) -> _Shape:
    shape = _SHAPES.get(cls)
    if shape is None:
        names = [f.name for f in dataclasses.fields(cls) if f.init]
        shape = _SHAPES[cls] = _Shape(
            columns=tuple(name for name in names if name not in ("id", "pk")),
            node_name=get_object_definition(cls, strict=True).name if "id" in names else None,
            has_pk="pk" in names,
        )
    return shape


def from_columns(cls: type[T], row: Any, /, **given: Any) -> T:
    """`cls(**given)`, every other constructor field taken from the row's attribute of the
    same name, with the two keys every type spells alike: `id`, the global id of the row's
    `id` under the type's GraphQL name (what `node(id:)` resolves, C9), and `pk`, the row's
    `id` itself. A field neither given nor a column keeps its default; with none, the
    constructor raises TypeError, so a renamed column fails loudly, never silently."""
    shape = _shape(cls)
    values = {
        name: getattr(row, name)
        for name in shape.columns
        if name not in given and hasattr(row, name)
    }
    if shape.node_name is not None and "id" not in given:
        values["id"] = to_global_id(shape.node_name, row.id)
    if shape.has_pk and "pk" not in given:
        values["pk"] = row.id
    return cls(**values, **given)


async def load_one(
    loader: DataLoader[KeyT, RowT | None], key: KeyT | None, build: Callable[[RowT], T]
) -> T | None:
    """The object built from the row `loader` finds for `key`; None without a key or a row
    (a foreign or deleted object is null, C9)."""
    if key is None:
        return None
    row = await loader.load(key)
    return None if row is None else build(row)


async def load_many(
    loader: DataLoader[KeyT, list[RowT]], key: KeyT, build: Callable[[RowT], T]
) -> list[T]:
    """The objects built from the rows `loader` lists for `key`, in its order."""
    return [build(row) for row in await loader.load(key)]
