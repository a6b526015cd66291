"""What the holder of a manage token may read about their booking (public, C41): the meeting,
its page and host, and its iCalendar download (C43). The token is the only key: only its
SHA-256 is stored, so an unknown and a forged token answer the same NotFound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from slotgraph.jobs.meetings import booking_meeting
from slotgraph.jobs.meetings import host_zone
from slotgraph.models import Booking
from slotgraph.models import Contact
from slotgraph.models import SchedulingPage
from slotgraph.models import User
from slotgraph.scheduling.ical import Method
from slotgraph.scheduling.ical import meeting_ics
from slotgraph.usecases.bookings import manage_token_digest
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.pages import page_url
from slotgraph.usecases.pages import user_base_url

if TYPE_CHECKING:
    from slotgraph.usecases.services import Services

_UNKNOWN_LINK = (
    "No booking for this link; use the manage link from your booking confirmation, or "
    "contact the host."
)


@dataclass(frozen=True)
class ManagedBooking:
    booking: Booking
    host_name: str
    host_time_zone: str
    contact_name: str
    page_slug: str | None  # None once the page was deleted
    page_url: str | None
    ics: bytes


async def managed_booking(services: Services, manage_token: str) -> ManagedBooking:
    if not 1 <= len(manage_token) <= 200:
        raise NotFoundError("booking", field="manageToken", message=_UNKNOWN_LINK)
    async with services.sessionmaker() as session:
        row = (
            await session.execute(
                select(Booking, User, Contact, SchedulingPage)
                .join(User, User.id == Booking.host_user_id)
                .join(Contact, Contact.id == Booking.contact_id)
                .outerjoin(SchedulingPage, SchedulingPage.id == Booking.page_id)
                .where(Booking.manage_token_hash == manage_token_digest(manage_token))
            )
        ).one_or_none()
        if row is None:
            raise NotFoundError("booking", field="manageToken", message=_UNKNOWN_LINK)
        booking, host, contact, page = row
        base = await user_base_url(session, host.id, services.public_base_url)
    url = page_url(base, page.slug) if page is not None else None
    zone = host_zone(host, page)
    contact_name = booking.contact_name or contact.name
    meeting = booking_meeting(booking, host, contact, page, url=url)
    return ManagedBooking(
        booking=booking,
        host_name=host.name,
        host_time_zone=zone,
        contact_name=contact_name,
        page_slug=page.slug if page is not None else None,
        page_url=url,
        ics=meeting_ics(meeting, Method.PUBLISH, now=services.clock()),
    )
