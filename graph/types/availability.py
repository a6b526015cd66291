"""Free slots of a public page, grouped by day in the invitee's time zone."""

from __future__ import annotations

import datetime as dt

import strawberry


@strawberry.type
class TimeSlot:
    start: dt.datetime
    end: dt.datetime


@strawberry.type(description="The slots starting on one date, in the requested time zone.")
class SlotDay:
    date: dt.date
    slots: list[TimeSlot]


@strawberry.type(description="Bookable times of a page (S8).")
class AvailableSlots:
    duration: int
    time_zone: str
    offline: bool = strawberry.field(
        description="No calendar connected: a booking is a request, on no calendar (S7)."
    )
    days: list[SlotDay]
