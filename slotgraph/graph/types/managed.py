"""`managedBooking`: what the holder of a manage token sees of their meeting (C41, C43)."""

from __future__ import annotations

import strawberry

from slotgraph.graph.mutations.bookings import BookedMeeting
from slotgraph.usecases.managed_booking import ManagedBooking as Found


@strawberry.type(description="A booking as its manage link shows it to the contact.")
class ManagedBooking:
    booking: BookedMeeting
    host_name: str
    host_time_zone: str
    contact_name: str
    page_slug: str | None = strawberry.field(description="Null once the page was deleted.")
    page_url: str | None
    ics: str = strawberry.field(
        description='The meeting as iCalendar (RFC 5545, METHOD:PUBLISH) for an "add to '
        'calendar" download: a stable UID, and a SEQUENCE each change raises.'
    )

    @classmethod
    def of(cls, found: Found) -> ManagedBooking:
        return cls(
            booking=BookedMeeting.from_row(found.booking),
            host_name=found.host_name,
            host_time_zone=found.host_time_zone,
            contact_name=found.contact_name,
            page_slug=found.page_slug,
            page_url=found.page_url,
            ics=found.ics.decode(),
        )
