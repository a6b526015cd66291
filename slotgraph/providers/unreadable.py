"""One item an adapter cannot read never fails a whole sync (written once for every
adapter's sync mapping): the item is skipped, logged with its id and cause, and its id is
reported in `ChangeSet.skipped`, which the sync engine counts on the connection.

Reading is wrapped in a broad `except Exception` on purpose: the items come from a remote
server, and whatever one of them holds (a missing field, a value of an unexpected type, a
date where a datetime belongs) must cost that item only, never the calendar's other events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import TypeVar

import structlog

from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import RemoteEvent

log = structlog.get_logger("slotgraph.providers")
T = TypeVar("T")


@dataclass
class Skipped:
    """The items of one listing that could not be read (their ids, in order)."""

    provider: str
    calendar_id: str
    ids: list[str] = field(default_factory=list)

    def read(self, item_id: str, read: Callable[[], T]) -> T | None:
        """`read()`, or None (logged, counted) when the item cannot be read."""
        try:
            return read()
        except Exception as error:  # see the module docstring
            log.warning(
                "calendar item skipped",
                provider=self.provider,
                calendar_id=self.calendar_id,
                item_id=item_id,
                cause=type(error).__name__,
            )
            self.ids.append(item_id)
            return None


@dataclass
class ChangePage(Skipped):
    """One page of an incremental listing, collected item by item as every adapter's sync
    mapping does it: the events changed, the ids removed, and (as `Skipped`) the items that
    could not be read."""

    changed: list[RemoteEvent] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def in_window(self, event: RemoteEvent, inside: bool) -> None:
        """An incremental answer is not limited to the sync window: an event moved out of
        it (`inside` false) is nothing to keep, like a deleted one."""
        if inside:
            self.changed.append(event)
        else:
            self.removed.append(event.remote_id)

    def page(self, *, next_page: str | None, cursor: str | None) -> ChangeSet:
        return ChangeSet.page_of(
            self.changed, self.removed, next_page=next_page, cursor=cursor, skipped=self.ids
        )
