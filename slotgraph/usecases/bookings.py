"""bookMeeting: a contact books a slot of a public page (S7, S8, S12, S13, S20, C12–C14).

The slot is re-checked live (the same computation `availableSlots` answers, always with a
live free/busy read; the busy cache answers only when that read fails transiently, C16),
then written in one transaction: the contact (matched by email, S20), the booking (its
answers checked first against the page's form fields, `slotgraph.scheduling.forms`), the outbox row
for the calendar write (C14) and the idempotency record (C12). The exclusion constraint
on bookings decides any race: the loser gets `SlotUnavailable`. Offline mode (S7): no
usable calendar, the booking is REQUESTED and nothing is written to a calendar. Lost
access (S13): refused, and the host gets at most one email per page and day saying a
contact tried to book (C13). The contact gets a secret manage token, shown once, for
cancelling or rescheduling without an account (`slotgraph.usecases.manage_bookings`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlencode

import structlog
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from slotgraph.jobs import outbox
from slotgraph.jobs.deliveries import emails
from slotgraph.jobs.deliveries.booking_emails import contact_language
from slotgraph.models import Booking
from slotgraph.models import Contact
from slotgraph.models import OutboxMessage
from slotgraph.models import User
from slotgraph.models.enums import BookingActor
from slotgraph.models.enums import BookingEventKind
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import CalendarWriteState
from slotgraph.models.outbox import OutboxKind
from slotgraph.scheduling import forms
from slotgraph.scheduling import rules
from slotgraph.usecases import booking_events
from slotgraph.usecases import idempotency
from slotgraph.usecases.availability import PageSlots
from slotgraph.usecases.availability import page_slots
from slotgraph.usecases.errors import HostAccessLostError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.errors import SlotUnavailableError
from slotgraph.usecases.pages import PublicPage
from slotgraph.usecases.pages import get_public_page
from slotgraph.usecases.pages import user_base_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services
    from slotgraph.usecases.viewer import Viewer

log = structlog.get_logger("slotgraph.bookings")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]+$")
MANAGE_TOKEN_PREFIX = "sgm_"  # noqa: S105 (a public prefix, not a secret)
OPERATION = "bookMeeting"
MAX_ANSWERS = 30
MAX_ANSWER_CHARS = 10_000
MAX_TITLE = 300
TAKEN = "This time is no longer available; pick another slot."


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
    # Not part of the request's identity (C12): who sent it and its bot check (C25, C34).
    client_address: str | None = None
    bot_check_token: str | None = None
    # C43: the page's language (C19), kept on the booking for the contact's emails.
    language: str | None = None

    def fingerprint(self) -> str:
        """What makes two calls "the same" for C12 (the key itself excluded)."""
        return idempotency.request_fingerprint(
            {
                "slug": self.slug.strip("/").lower(),
                "domain": (self.domain or "").lower(),
                "start": self.start.astimezone(dt.UTC).isoformat(),
                "duration": self.duration,
                "timeZone": self.time_zone,
                "name": self.contact_name,
                "email": self.contact_email.lower(),
                "answers": self.answers,
            }
        )


@dataclass(frozen=True, slots=True)
class BookingOutcome:
    booking: Booking
    offline: bool
    replayed: bool
    # Shown once: only its digest is stored, so a replay (C12) cannot give it again.
    manage_token: str | None = None


def _problems(request: BookingRequest) -> list[tuple[str | None, str]]:
    """Everything wrong with the request that needs no page, all at once (a form marks
    every invalid field together); the answers against the page's form come after."""
    problems: list[tuple[str | None, str]] = []
    if request.start.tzinfo is None:
        problems.append(("start", "Give the start with a UTC offset, e.g. 2030-01-07T09:00:00Z."))
    try:
        rules.check_time_zone("timeZone", request.time_zone)
    except rules.RuleError as exc:
        problems.extend(exc.problems)
    if not 1 <= len(request.contact_name.strip()) <= 200:
        problems.append(("contact.name", "Give your name (1 to 200 characters)."))
    if not EMAIL.match(request.contact_email.strip()):
        problems.append(("contact.email", "Give a valid email address, like name@example.com."))
    # A bound on the work before the page is read; each answer's own limits are its form
    # field's (`slotgraph.scheduling.forms`, checked in `_answers`).
    if len(request.answers) > MAX_ANSWERS or any(len(k) > 100 for k in request.answers):
        problems.append(("answers", f"At most {MAX_ANSWERS} answers."))
    for key, answer in request.answers.items():
        if len(answer) > MAX_ANSWER_CHARS:
            problems.append(
                (
                    f"answers.{key}",
                    f"An answer has at most {forms.MAX_ANSWER['LONG_TEXT']:,} characters; "
                    "shorten it.",
                )
            )
    try:
        idempotency.check_key(request.idempotency_key)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    return problems


async def queue_calendar_write(
    session: AsyncSession, booking: Booking, kind: OutboxKind, **details: Any
) -> None:
    """C14: the calendar change follows the commit through the outbox, so it is written
    (with its delivery job) in the same transaction as the change itself and can be
    neither lost nor doubled."""
    booking.calendar_write_state = CalendarWriteState.PENDING
    await outbox.post(
        session,
        OutboxMessage(
            account_id=booking.account_id,
            kind=kind,
            booking_id=booking.id,
            payload={"bookingId": booking.id, **details},
        ),
    )


def booking_title(page_title: str, contact_name: str) -> str:
    """A page booking's title, "<page title>: <name as the contact typed it>"."""
    return f"{page_title}: {contact_name.strip()}"[:MAX_TITLE]


def new_manage_token() -> tuple[str, str]:
    """A contact's secret for managing their booking, and the digest that is stored."""
    token = MANAGE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, manage_token_digest(token)


def manage_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def book_meeting(
    services: Services, viewer: Viewer | None, request: BookingRequest
) -> BookingOutcome:
    problems = _problems(request)
    now = services.clock()
    try:
        public = await get_public_page(services, request.slug, request.domain)
    except NotFoundError:
        if problems:  # the form's own mistakes first: they are fixed on the form
            raise InvalidInput.of(problems) from None
        raise
    if problems:
        listed = {field for field, _ in problems}
        if "answers" not in listed:  # within the bound: each answer against its question
            problems.extend(
                p for p in _answer_problems(public, request.answers) if p[0] not in listed
            )
        raise InvalidInput.of(problems)
    scope = f"token:{viewer.token_id}" if viewer is not None else f"page:{public.page.id}"
    key, fingerprint = request.idempotency_key, request.fingerprint()
    async with idempotency.claimed(services, scope, OPERATION, key, fingerprint) as claim:
        if claim.first is not None:
            booking, answered = claim.first.booking, claim.first.answered
            # Answers kept before `offline` was stored: what the status says.
            offline = answered.get("offline", booking.status is BookingStatus.REQUESTED)
            return BookingOutcome(booking, offline, replayed=True)
        if viewer is None:  # C25, C34: a replay above passed; a new booking may be tried
            await services.limits.admit_booking(
                request.client_address,
                page_id=public.page.id,
                host_id=public.host.id,
                email=request.contact_email,
                bot_check_token=request.bot_check_token,
            )
        return await _book(services, public, request, claim, now, anonymous=viewer is None)


async def _book(
    services: Services,
    public: PublicPage,
    request: BookingRequest,
    claim: idempotency.Claim,
    now: dt.datetime,
    *,
    anonymous: bool,
) -> BookingOutcome:
    page, host = public.page, public.host
    answers = _answers(public, request.answers)
    start = request.start.astimezone(dt.UTC)
    found = await check_slot(services, public, start, request.duration, now=now)
    end = start + dt.timedelta(minutes=found.duration)
    manage_token, token_hash = new_manage_token()
    with overlap_taken():
        async with services.sessionmaker.begin() as session:
            contact = await _contact(session, page.account_id, request)
            booking = Booking(
                account_id=page.account_id,
                host_user_id=host.id,
                page_id=page.id,
                contact_id=contact.id,
                title=booking_title(page.title, request.contact_name),
                contact_name=request.contact_name.strip(),
                starts_at=start,
                ends_at=end,
                time_zone=request.time_zone,
                status=BookingStatus.REQUESTED if found.offline else BookingStatus.CONFIRMED,
                answers=answers,
                idempotency_key=request.idempotency_key,
                on_calendar=not found.offline,
                manage_token_hash=token_hash,
                contact_language=contact_language(request.language, host.locale),
            )
            manage_url = await _manage_url(services, session, host.id, manage_token, booking)
            booking.manage_url_sealed = services.credentials.seal({"url": manage_url})
            session.add(booking)
            await session.flush()
            if not found.offline:
                await queue_calendar_write(session, booking, OutboxKind.CALENDAR_CREATE)
            kind = BookingEventKind.REQUESTED if found.offline else BookingEventKind.CREATED
            await booking_events.record(session, booking, kind, actor=BookingActor.CONTACT, now=now)
            if anonymous:  # C25: counted with the booking, so only bookings made count
                await services.limits.count_booking(
                    session, page_id=page.id, email=request.contact_email
                )
            await claim.complete(session, booking, offline=found.offline)
    log.info("booked", booking_id=booking.id, offline=found.offline)
    # After commit: every page of the host loses this time, not only the booked page.
    await booking_events.announce(services, host.id)
    return BookingOutcome(
        booking=booking, offline=found.offline, replayed=False, manage_token=manage_token
    )


@contextmanager
def overlap_taken(message: str = TAKEN) -> Iterator[None]:
    """The host's no-overlap constraint (`no_overlapping_bookings`) has the last word when
    two writes race for one time: the loser's commit fails, and on every path that writes a
    booking's time (booking, rescheduling, a host's own meeting) it is answered the same
    way, as SlotUnavailable for `start`."""
    try:
        yield
    except IntegrityError as exc:
        if "no_overlapping_bookings" in str(exc.orig):
            raise SlotUnavailableError(message, field="start") from None
        raise


async def _manage_url(
    services: Services, session: AsyncSession, host_id: int, token: str, booking: Booking
) -> str:
    """The contact's manage link as the pages build it (C41), sealed on the booking for
    every email to the contact (C21)."""
    base = await user_base_url(session, host_id, services.public_base_url)
    query = urlencode({"token": token, "lang": booking.contact_language or "en"})
    return f"{base}/meetings/manage?{query}"


def _answers(public: PublicPage, answers: dict[str, str]) -> dict[str, str]:
    """The answers as stored: checked against the page's form fields as they are now,
    before any provider call or write."""
    try:
        return forms.check_answers(public.form_fields, answers)
    except rules.RuleError as exc:
        raise InvalidInput.of(exc.problems, sentences=True) from None


def _answer_problems(public: PublicPage, answers: dict[str, str]) -> list[tuple[str | None, str]]:
    try:
        _answers(public, answers)
    except InvalidInput as exc:
        return list(exc.problems)
    return []


async def check_slot(
    services: Services,
    public: PublicPage,
    start: dt.datetime,
    duration: int | None,
    *,
    now: dt.datetime,
    moving: Booking | None = None,
    tell_host: bool = True,
) -> PageSlots:
    """The live re-check every booking and reschedule goes through: `start` must be one of
    the slots `availableSlots` would offer right now (S8), `moving` excepted from busy time.
    Lost access refuses and, for a contact (`tell_host`), tells the host at most once per
    page and day (S13, C13). `public` is the page as the caller read it: it is not read
    again."""
    page, host = public.page, public.host
    try:
        found = await page_slots(
            services,
            public,
            start=start,
            end=start + dt.timedelta(minutes=1),
            duration=duration,
            now=now,
            moving=moving,
            live=True,
        )
    except HostAccessLostError:
        if tell_host:
            await _tell_host_someone_tried(services, host, page.id, page.title, now)
        raise
    refused = found.refused(start)
    if refused is not None:
        raise refused
    return found


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
    async with services.sessionmaker.begin() as session:
        await emails.post_lost_access_email(session, host, page_id, page_title, now)
