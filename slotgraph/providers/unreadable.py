"""One item an adapter cannot read never fails a whole sync (written once for every
adapter's sync mapping): the item is skipped, logged with its id and cause, and its id is
reported in `ChangeSet.skipped`, which the sync engine counts on the connection.

Reading is wrapped in a broad `except Exception` on purpose: the items come from a remote
server, and whatever one of them holds (a missing field, a value of an unexpected type, a
date where a datetime belongs) must cost that item only, never the calendar's other events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

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
