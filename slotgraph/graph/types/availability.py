"""Free slots of a public page, grouped by day in the invitee's time zone."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

import strawberry

from slotgraph.graph.completion import CompletionMemo

if TYPE_CHECKING:
    from slotgraph.scheduling.slots import Slot


@strawberry.type
class TimeSlot:
    start: dt.datetime
    end: dt.datetime


@strawberry.type(description="The slots starting on one date, in the requested time zone.")
class SlotDay:
    date: dt.date
    starts: list[dt.datetime] = strawberry.field(
        description="When each slot starts (they last the answer's `duration`): the same "
        "slots as `slots`, several times cheaper to serve to many subscribers."
    )
    ends: strawberry.Private[list[dt.datetime]]

    @strawberry.field
    def slots(self) -> list[TimeSlot]:
        # A resolver per day, not per slot: objects are made only when asked for.
        return [TimeSlot(start=s, end=e) for s, e in zip(self.starts, self.ends, strict=True)]

    @classmethod
    def of(cls, date: dt.date, slots: Iterable[Slot]) -> SlotDay:
        listed = list(slots)
        return cls(date=date, starts=[s.start for s in listed], ends=[s.end for s in listed])


@strawberry.type(description="Bookable times of a page (S8).")
class AvailableSlots:
    duration: int
    time_zone: str
    offline: bool = strawberry.field(
        description="No calendar connected: a booking is a request, on no calendar (S7)."
    )
    days: list[SlotDay]
    # A shared slot answer's view is completed once per selection (`graph.completion`).
    completion_memo: strawberry.Private[CompletionMemo] = dataclasses.field(
        default_factory=CompletionMemo
    )
