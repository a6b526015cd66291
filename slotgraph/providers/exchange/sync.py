"""Sync (`list_changes`) over SyncFolderItems, run in worker threads.

The cursor wraps the SyncFolderItems sync state. A full listing takes a sync state first and
then the calendar view of the window, so a change made in between is reported again rather
than lost. Incremental pages report single items as they change. EWS reports a change to any
occurrence of a recurring series as a change of its master, without saying which occurrences
appeared or vanished, so a changed or deleted series answers `CursorExpired`: the caller runs
a full listing of the window, which is exact. To recognise a deleted master, the cursor
carries short fingerprints of the calendar's recurring masters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import partial
from typing import Any
from typing import Final

from exchangelib.items import ID_ONLY
from exchangelib.services import SyncFolderItems

from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.exchange.ews import event_field_paths
from slotgraph.providers.exchange.ews import field_path
from slotgraph.providers.exchange.ews import read_change
from slotgraph.providers.exchange.ews import view_events
from slotgraph.providers.exchange.wire import fingerprint
from slotgraph.providers.exchange.wire import make_cursor
from slotgraph.providers.exchange.wire import overlaps_window
from slotgraph.providers.exchange.wire import read_cursor
from slotgraph.providers.exchange.wire import to_event
from slotgraph.providers.unreadable import ChangePage
from slotgraph.providers.unreadable import Skipped

SYNC_PAGE_SIZE: Final = 512  # the most SyncFolderItems returns per call


def _page(
    service: Any, folder: Any, fields: set[Any], state: str | None
) -> Iterator[tuple[str, Any]]:
    """One SyncFolderItems page since `state` (None: from the start), as (kind, item)."""
    for change in service.call(
        folder=folder,
        shape=ID_ONLY,
        additional_fields=fields,
        sync_state=state,
        ignore=None,
        max_changes_returned=SYNC_PAGE_SIZE,
        sync_scope=None,
    ):
        yield read_change(change)


def full_listing(
    account: Any, folder: Any, zone: str, start: dt.datetime, end: dt.datetime
) -> ChangeSet:
    """The window's events, with a cursor taken before they were read."""
    # The sync state first: a change made while the view is read comes again next time.
    state: str | None = None
    masters: set[str] = set()
    service = SyncFolderItems(account=account)
    while True:
        for kind, item in _page(service, folder, {field_path("type")}, state):
            if kind == SyncFolderItems.DELETE:
                masters.discard(fingerprint(str(item.id)))
            elif kind != SyncFolderItems.READ_FLAG_CHANGE and item.type == "RecurringMaster":
                masters.add(fingerprint(str(item.id)))
        previous, state = state, str(service.sync_state)
        if service.includes_last_item_in_range or state == previous:
            break
    skipped = Skipped("exchange", str(folder.id or account.primary_smtp_address))
    events = view_events(account, folder, start, end, zone, skipped)
    return ChangeSet(
        changed=tuple(events),
        removed=(),
        next_cursor=make_cursor(state, masters),
        skipped=tuple(skipped.ids),
    )


def changes(
    account: Any, folder: Any, zone: str, token: str, start: dt.datetime, end: dt.datetime
) -> ChangeSet:
    """One page of changes since `token`; `CursorExpired` when a series changed."""
    state, masters = read_cursor(token)
    service = SyncFolderItems(account=account)
    changes = ChangePage("exchange", str(folder.id or account.primary_smtp_address))
    for kind, item in _page(service, folder, event_field_paths(), state):
        if kind == SyncFolderItems.READ_FLAG_CHANGE:
            continue
        if kind == SyncFolderItems.DELETE:
            if fingerprint(str(item.id)) in masters:
                raise CursorExpired("A recurring series was deleted; run a full sync.")
            changes.removed.append(str(item.id))
            continue
        if item.type == "RecurringMaster":
            raise CursorExpired("A recurring series changed on Exchange; run a full sync.")
        event = changes.read(str(item.id), partial(to_event, item, zone))
        if event is not None:  # created outside the window counts as moved out of it
            changes.in_window(event, overlaps_window(event, zone, start, end))
    next_token = make_cursor(str(service.sync_state), masters)
    last = bool(service.includes_last_item_in_range)
    return changes.page(next_page=None if last else next_token, cursor=next_token)
