"""A booking as `slotgraph.scheduling.ical` sees it (C43): one mapping of the rows to a
`Meeting` for every sender of its iCalendar (the manage page's download, the emails), so
the host's zone (the page's, else the host's), the contact's name and the status rule are
written once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slotgraph.models.enums import TIME_FREEING_STATUSES
from slotgraph.models.enums import BookingStatus
from slotgraph.scheduling.ical import Meeting
from slotgraph.scheduling.ical import Person

if TYPE_CHECKING:
    from slotgraph.models import Booking
    from slotgraph.models import Contact
    from slotgraph.models import SchedulingPage
    from slotgraph.models import User


def host_zone(host: User, page: SchedulingPage | None) -> str:
    """The zone the meeting is written in: the page's, else the host's."""
    return (page.time_zone if page is not None else None) or host.time_zone


def booking_meeting(
    booking: Booking,
    host: User,
    contact: Contact,
    page: SchedulingPage | None,
    *,
    url: str | None = None,
) -> Meeting:
    return Meeting(
        uid=booking.ical_uid,
        sequence=booking.sequence,
        title=booking.title,
        start=booking.starts_at,
        end=booking.ends_at,
        time_zone=host_zone(host, page),
        organizer=Person(host.name, host.email),
        attendee=Person(booking.contact_name or contact.name, contact.email),
        url=url,
        cancelled=booking.status in TIME_FREEING_STATUSES,  # C42: declined too
        tentative=booking.status is BookingStatus.REQUESTED,
    )
