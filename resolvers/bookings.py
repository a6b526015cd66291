"""bookMeeting: a contact books a slot of a public page (S7, S8, S12, S13, S20, C12–C14).

The slot is re-checked live (the same computation `availableSlots` answers, with live
free/busy), then written in one transaction: the contact (matched by email, S20), the
booking, the outbox row for the calendar write (C14) and the idempotency record (C12). The
exclusion constraint on bookings decides any race: the loser gets `SlotUnavailable`.
Offline mode (S7): no usable calendar, the booking is REQUESTED and nothing is written to a
calendar. Lost access (S13): refused, and the host gets at most one email per page and
day saying a contact tried to book (C13).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from models import Booking, Contact, IdempotencyKey, LostAccessNotice, OutboxMessage, User
from models.enums import BookingStatus
from models.outbox import OutboxKind
from resolvers.availability import available_slots
from resolvers.errors import (
    HostAccessLostError,
    IdempotencyKeyReusedError,
    InvalidInput,
    SlotUnavailableError,
)
from resolvers.pages import get_public_page
from scheduling import rules
from sync.changes import publish_host_changed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.connections import Services
    from resolvers.viewer import Viewer

log = structlog.get_logger("slotgraph.bookings")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]+$")
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
MAX_ANSWERS = 30


@dataclass(frozen=True, slots=True)
class BookingRequest:
    slug: str
    domain: str | None
    start: dt.datetime
    duration: int | None
    time_zone: str
    contact_name: str
    contact_email: str
    answers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """What makes two calls "the same" for C12 (the key itself excluded)."""
        canonical = json.dumps(
            {
                "slug": self.slug.strip("/").lower(),
                "domain": (self.domain or "").lower(),
                "start": self.start.astimezone(dt.UTC).isoformat(),
                "duration": self.duration,
                "timeZone": self.time_zone,
                "name": self.contact_name,
                "email": self.contact_email.lower(),
                "answers": self.answers,
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class BookingOutcome:
    booking: Booking
    offline: bool
    replayed: bool


def _validate(request: BookingRequest) -> None:
    if request.start.tzinfo is None:
        raise InvalidInput(
            "Give the start with a UTC offset, e.g. 2030-01-07T09:00:00Z.", field="start"
        )
    try:
        rules.check_time_zone("timeZone", request.time_zone)
    except rules.RuleError as exc:
        raise InvalidInput(exc.message, field=exc.field) from None
    if not 1 <= len(request.contact_name.strip()) <= 200:
        raise InvalidInput("Give your name (1 to 200 characters).", field="contact.name")
    if not EMAIL.match(request.contact_email.strip()):
        raise InvalidInput(
            "Give a valid email address, like name@example.com.", field="contact.email"
        )
    if len(request.answers) > MAX_ANSWERS or any(
        len(k) > 100 or len(v) > 2_000 for k, v in request.answers.items()
    ):
        raise InvalidInput(f"At most {MAX_ANSWERS} answers of 2,000 characters.", field="answers")
    if request.idempotency_key is not None and not 1 <= len(request.idempotency_key) <= 200:
        raise InvalidInput("An idempotency key has 1 to 200 characters.", field="idempotencyKey")


async def _replay(
    session: AsyncSession, scope: str, request: BookingRequest, now: dt.datetime
) -> Booking | None:
    """The booking a completed earlier call with this key made, or None (C12)."""
    if request.idempotency_key is None:
        return None
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
    record = await session.get(IdempotencyKey, (scope, request.idempotency_key))
    if record is None:
        return None
    if record.operation != "bookMeeting" or record.request_hash != request.fingerprint():
        raise IdempotencyKeyReusedError(
            "This idempotency key was used for a different request; use a new key for a new "
            "booking.",
            field="idempotencyKey",
        )
    return await session.get(Booking, record.response["bookingId"])


async def book_meeting(
    services: Services, viewer: Viewer | None, request: BookingRequest, *, now: dt.datetime
) -> BookingOutcome:
    _validate(request)
    public = await get_public_page(
        services.sessionmaker, request.slug, request.domain, services.public_base_url
    )
    page, host = public.page, public.host
    scope = f"token:{viewer.token_id}" if viewer is not None else f"page:{page.id}"
    async with services.sessionmaker.begin() as session:
        replayed = await _replay(session, scope, request, now)
    if replayed is not None:
        return BookingOutcome(
            booking=replayed, offline=replayed.status is BookingStatus.REQUESTED, replayed=True
        )
    start = request.start.astimezone(dt.UTC)
    try:
        found = await available_slots(
            services,
            slug=request.slug,
            domain=request.domain,
            start=start,
            end=start + dt.timedelta(minutes=1),
            duration=request.duration,
            now=now,
        )
    except HostAccessLostError:
        await _tell_host_someone_tried(services, host, page.id, page.title, now)
        raise
    if not any(slot.start == start for slot in found.slots):
        raise SlotUnavailableError(_TAKEN, field="start")
    end = start + dt.timedelta(minutes=found.duration)
    try:
        async with services.sessionmaker.begin() as session:
            contact = await _contact(session, page.account_id, request)
            booking = Booking(
                account_id=page.account_id,
                host_user_id=host.id,
                page_id=page.id,
                contact_id=contact.id,
                title=f"{page.title}: {request.contact_name.strip()}"[:300],
                starts_at=start,
                ends_at=end,
                time_zone=request.time_zone,
                status=BookingStatus.REQUESTED if found.offline else BookingStatus.CONFIRMED,
                answers=request.answers,
                idempotency_key=request.idempotency_key,
            )
            session.add(booking)
            await session.flush()
            if not found.offline:
                session.add(
                    OutboxMessage(
                        account_id=page.account_id,
                        kind=OutboxKind.CALENDAR_CREATE,
                        booking_id=booking.id,
                        payload={"bookingId": booking.id},
                    )
                )
            if request.idempotency_key is not None:
                session.add(
                    IdempotencyKey(
                        scope=scope,
                        key=request.idempotency_key,
                        operation="bookMeeting",
                        request_hash=request.fingerprint(),
                        response={"bookingId": booking.id},
                        expires_at=now + IDEMPOTENCY_TTL,
                    )
                )
            await session.flush()
    except IntegrityError as exc:
        if "no_overlapping_bookings" in str(exc.orig):
            raise SlotUnavailableError(_TAKEN, field="start") from None
        if "idempotency_keys" in str(exc.orig):  # the same key raced itself: replay it
            async with services.sessionmaker.begin() as session:
                again = await _replay(session, scope, request, now)
            if again is not None:
                return BookingOutcome(booking=again, offline=found.offline, replayed=True)
        raise
    log.info("booked", booking_id=booking.id, offline=found.offline)
    # After commit: every page of the host loses this time, not only the booked page.
    await publish_host_changed(services.pubsub, services.sessionmaker, host.id)
    return BookingOutcome(booking=booking, offline=found.offline, replayed=False)


_TAKEN = "This time is no longer available; pick another slot."


async def _contact(session: AsyncSession, account_id: int, request: BookingRequest) -> Contact:
    """S20: the CRM contact with this email in the account, created on first booking."""
    email = request.contact_email.strip()
    await session.execute(
        insert(Contact)
        .values(account_id=account_id, email=email, name=request.contact_name.strip())
        .on_conflict_do_nothing()
    )
    return (
        await session.execute(
            select(Contact).where(
                Contact.account_id == account_id, func.lower(Contact.email) == email.lower()
            )
        )
    ).scalar_one()


async def _tell_host_someone_tried(
    services: Services, host: User, page_id: int, page_title: str, now: dt.datetime
) -> None:
    """S13/C13: one email per host, page and day, however often contacts try."""
    day = dt.datetime.combine(now.date(), dt.time(), dt.UTC)
    async with services.sessionmaker.begin() as session:
        claimed = await session.execute(
            insert(LostAccessNotice)
            .values(host_user_id=host.id, page_id=page_id, day=day)
            .on_conflict_do_nothing()
            .returning(LostAccessNotice.page_id)
        )
        if claimed.first() is None:
            return
        session.add(
            OutboxMessage(
                account_id=host.account_id,
                kind=OutboxKind.EMAIL,
                payload=_lost_access_email(host, page_title),
            )
        )


def _lost_access_email(host: User, page_title: str) -> dict[str, Any]:
    return {
        "to": host.email,
        "subject": f"A contact tried to book '{page_title}'",
        "body": (
            f"Hi {host.name},\n\nA contact tried to book a meeting on your scheduling page "
            f"'{page_title}', but Slotgraph has lost access to one of your calendars, so no "
            "time could be offered.\n\nTo fix it, reconnect the calendar, or remove it from "
            "your availability calendars (the X beside it) in your calendar settings.\n"
        ),
    }
