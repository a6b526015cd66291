"""What a connection's status and sync state say together (C1, C2, C13, C27), written once
for every reader (the `CalendarConnection` type, the `syncStatus` subscription).

The two are stored apart and written by different hands: the sync engine writes the sync
state, while lost access is marked wherever a provider says so (a live free/busy read, a
calendar write, a sync), and those writers leave the other column as it was. Read raw, a
connection could say `ACCESS_LOST` beside `SYNCED`, or `SYNCED` before any sync ran. So the
pair is shown through `shown_sync_state`, whose rules are:

- `DISCONNECTED`: nothing syncs, the state is `IDLE`.
- `ACCESS_LOST`: the sync cannot run, the state is `ERROR` (`lastError` says why), unless a
  sync is running right now (`SYNCING`: C27's re-probe, which ends the loss on success).
- `SYNCED` is shown only with the time of a successful sync (`lastSyncedAt`); without one
  the connection has not synced yet: `IDLE`.
- Otherwise the stored state.

A lost *calendar* (C2: deleted or unshared at the provider) leaves its connection
`CONNECTED` and syncing the others; the loss shows on that calendar's own `status`.
"""

from __future__ import annotations

import datetime as dt

from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import SyncState


def shown_sync_state(
    status: ConnectionStatus, sync_state: SyncState, last_synced_at: dt.datetime | None
) -> SyncState:
    if status is ConnectionStatus.DISCONNECTED:
        return SyncState.IDLE
    if status is ConnectionStatus.ACCESS_LOST:
        return SyncState.SYNCING if sync_state is SyncState.SYNCING else SyncState.ERROR
    if sync_state is SyncState.SYNCED and last_synced_at is None:
        return SyncState.IDLE
    return sync_state
