"""Writing items over EWS (C11: create, update and delete, so that cancel and reschedule
work on Exchange too), run in worker threads.

Creates store `EventDraft.idempotency_key` in Slotgraph's extended property and look it up
first, so a retried create lands once. Invitations go out only to attendees there are;
updates and deletes notify everyone (deletes send cancellations).
"""

from __future__ import annotations

from typing import Any

from exchangelib import CalendarItem
from exchangelib.errors import ErrorInvalidIdMalformed
from exchangelib.errors import ErrorItemNotFound
from exchangelib.items import ALL_OCCURRENCES
from exchangelib.items import MOVE_TO_DELETED_ITEMS
from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY
from exchangelib.items import SEND_TO_NONE

from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import ProviderError
from slotgraph.providers.exchange.ews import find_by_key
from slotgraph.providers.exchange.wire import KEY_FIELD
from slotgraph.providers.exchange.wire import ews_attendees
from slotgraph.providers.exchange.wire import ews_time
from slotgraph.providers.exchange.wire import ews_zone
from slotgraph.providers.exchange.wire import notify_attendees


def create_item(account: Any, folder: Any, draft: EventDraft) -> str:
    """Create the draft's item (once per idempotency key) and return its id."""
    if draft.idempotency_key:
        existing = find_by_key(folder, draft.idempotency_key)
        if existing is not None:
            return existing
    zone = ews_zone(draft.time_zone)
    item = CalendarItem(
        account=account,
        folder=folder,
        subject=draft.title,
        body=draft.description or None,
        location=draft.location,
        start=ews_time(draft.start, zone),
        end=ews_time(draft.end, zone),
        legacy_free_busy_status="Busy",
        required_attendees=ews_attendees(draft) or None,
    )
    if draft.idempotency_key:
        setattr(item, KEY_FIELD, draft.idempotency_key)
    invitations = SEND_TO_ALL_AND_SAVE_COPY if notify_attendees(draft) else SEND_TO_NONE
    item.save(send_meeting_invitations=invitations)
    return str(item.id)


def update_item(account: Any, folder: Any, event_id: str, draft: EventDraft) -> None:
    """Rewrite an item from the draft; a vanished item is a ProviderError."""
    found = list(account.fetch(ids=[(event_id, None)], folder=folder, only_fields=["start"]))
    item = found[0] if found else None
    if item is None or isinstance(item, (ErrorItemNotFound, ErrorInvalidIdMalformed)):
        raise ProviderError("The event no longer exists on the Exchange calendar.")
    if isinstance(item, Exception):
        raise item
    zone = ews_zone(draft.time_zone)
    item.subject = draft.title
    item.body = draft.description or None
    item.location = draft.location
    item.start = ews_time(draft.start, zone)
    item.end = ews_time(draft.end, zone)
    item._start_timezone = zone
    item._end_timezone = zone
    item.is_all_day = False
    item.required_attendees = ews_attendees(draft) or None
    item.save(
        update_fields=[
            "subject",
            "body",
            "location",
            "start",
            "end",
            "is_all_day",
            "required_attendees",
        ],
        send_meeting_invitations=(
            SEND_TO_ALL_AND_SAVE_COPY if draft.send_invitations else SEND_TO_NONE
        ),
    )


def delete_item(account: Any, event_id: str) -> None:
    """Delete (to Deleted Items), cancelling the meeting; an item already gone is fine."""
    results = account.bulk_delete(
        ids=[(event_id, None)],
        delete_type=MOVE_TO_DELETED_ITEMS,
        send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY,
        affected_task_occurrences=ALL_OCCURRENCES,
    )
    for result in results:
        if isinstance(result, (ErrorItemNotFound, ErrorInvalidIdMalformed)):
            continue  # already gone: deleting is idempotent
        if isinstance(result, Exception):
            raise result
