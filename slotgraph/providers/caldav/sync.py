"""Incremental sync of one CalDAV calendar (C28): RFC 6578 `sync-collection` where the
server offers a sync token, else the ctag/etag fallback (a Depth 1 listing of every
member's ETag, compared with the one kept in the cursor).

Either way only the members that changed are fetched (`calendar-multiget`), so a quiet
calendar costs one small request and ten changed events out of a thousand cost ten
fetched resources. A token the server rejects (`DAV:valid-sync-token`) is `CursorExpired`:
the sync engine then lists the window in full.

The cursor is JSON: `t` the sync token or `e` the ETag per member (fallback), and `s` the
occurrence ids of each recurring member in the window, so that an edited series reports the
occurrences it no longer has as removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import RemoteEvent


@dataclass
class Cursor:
    token: str | None = None
    etags: dict[str, str] | None = None
    series: dict[str, list[str]] = field(default_factory=dict)

    def dump(self) -> str:
        data: dict[str, object] = {"s": self.series}
        if self.token is not None:
            data["t"] = self.token
        else:
            data["e"] = self.etags or {}
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def load(cls, text: str) -> Cursor:
        try:
            data = json.loads(text)
            return cls(
                token=data.get("t"),
                etags=data.get("e"),
                series={k: list(v) for k, v in data.get("s", {}).items()},
            )
        except (ValueError, AttributeError, TypeError):
            raise CursorExpired(
                "The stored CalDAV cursor is not readable; listing again."
            ) from None


@dataclass
class Listing:
    """Gathers the events of one listing and the series ids kept for the next cursor."""

    old_series: dict[str, list[str]]
    full: bool = False  # a full listing: nothing is removed, everything is new
    changed: list[RemoteEvent] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    series: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.series = dict(self.old_series)  # members not reported keep theirs

    def member(self, href: str, events: list[RemoteEvent]) -> None:
        """A member read anew: its occurrences in the window are changed, the ids it had
        before and lacks now are removed (moved out of the window, or an occurrence gone)."""
        ids = [event.remote_id for event in events]
        self.changed.extend(events)
        before = self.old_series.get(href, [href])
        if any(i != href for i in ids):
            self.series[href] = ids
        else:
            self.series.pop(href, None)
        if not self.full:
            self.removed.extend(i for i in before if i not in ids)

    def gone(self, hrefs: Iterable[str]) -> None:
        for href in hrefs:
            self.removed.extend(self.old_series.get(href, [href]))
            self.series.pop(href, None)

    def result(self, cursor: Cursor, skipped: list[str]) -> ChangeSet:
        cursor.series = self.series
        return ChangeSet.page_of(
            self.changed,
            list(dict.fromkeys(self.removed)),
            next_page=None,
            cursor=cursor.dump(),
            skipped=skipped,
        )
