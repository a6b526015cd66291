"""Live views behind the GraphQL subscriptions: a connection's status and sync state (C1),
the changed days of a page's free slots (S8; "Beyond" goal 3), and the viewer's own
booking events (C21).

Both subscribe to change notices (`slotgraph.notices.pubsub`) before reading their starting
state, so no change slips between the two, and re-read from the database on every notice.

`watch_connection` re-reads one row per notice and yields only when it differs.

`watch_booking_events` reads the viewer's new `booking_events` rows per notice (see there).

`watch_availability` recomputes slots, which costs database reads and live free/busy
calls, so all subscribers of one process watching the same page, window and duration share
one computation per notice (`slotgraph.notices.feeds.AvailabilityFeeds`). Each subscriber
then keeps its own last answer, grouped by day in its own time zone, and yields only the
days whose slots changed.
The first event is a snapshot of the whole window (`snapshot=True`): a booking page needs
no separate query and cannot miss a change between query and subscription. Slots that
expire by the passing of time (minimum notice) are not notified: nothing changed.
A page that becomes unavailable (S13, S17) yields its error once, keeps watching, and
yields a fresh snapshot when it becomes bookable again; a deleted page ends the stream.

Each `watch_*` takes an optional `LateJoins`: grouped fan-out (`slotgraph.graph.fanout`)
runs one stream for every subscriber asking the same thing, and this is how subscribers who
arrive after its first frame get in (see there).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import AsyncGenerator
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Literal

import structlog
from sqlalchemy import select

from slotgraph.models import Booking
from slotgraph.models import BookingEvent
from slotgraph.models.enums import Scope
from slotgraph.notices.changes import BOOKING
from slotgraph.notices.changes import CONNECTION
from slotgraph.notices.feeds import FeedKey
from slotgraph.scheduling import rules
from slotgraph.scheduling.slots import Slot
from slotgraph.scheduling.slots import group_by_day
from slotgraph.usecases import reads
from slotgraph.usecases.availability import PageSlots
from slotgraph.usecases.availability import available_slots
from slotgraph.usecases.errors import AvailabilityUnknownError
from slotgraph.usecases.errors import DomainError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.pages import get_public_page
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from slotgraph.models import CalendarConnection
    from slotgraph.usecases.services import Services

log = structlog.get_logger("slotgraph.subscriptions")


class LateJoins:
    """The door of one stream shared by several subscribers (grouped fan-out) for those who
    arrive after its first frame. The stream says how they get in, or leaves it closed:

    - `by_snapshot(wake)`: frames may depend on earlier ones (`availabilityChanged` sends
      deltas). When `request()` is called (which calls `wake`), the stream reads its state
      afresh, yields what its current subscribers need (a delta, if anything changed), then
      calls `answer()` and yields the one frame a new subscriber would get now as its first
      (a snapshot). Every later frame follows from that state, for everyone.
    - `immediately()`: no frame depends on an earlier one and none is owed at the start
      (`bookingEvents`: events from now on); a late joiner just gets the next frames.
    - neither (`mode` None): a late joiner starts a stream of its own.

    The stream must yield exactly one frame per item it yields, so the item after
    `answer()` is the joiners' frame.
    """

    def __init__(self) -> None:
        self.mode: Literal["snapshot", "immediate"] | None = None
        self._wake: Callable[[], None] | None = None
        self._wanted = False
        self._answering = False

    def by_snapshot(self, wake: Callable[[], None]) -> None:
        self.mode, self._wake = "snapshot", wake

    def immediately(self) -> None:
        self.mode = "immediate"

    def request(self) -> None:
        """Someone waits for a first frame (the group's side)."""
        self._wanted = True
        if self._wake is not None:
            self._wake()

    def take_request(self) -> bool:
        """Whether someone waits for a first frame (the stream's side)."""
        wanted, self._wanted = self._wanted, False
        return wanted

    def answer(self) -> None:
        """The next item the stream yields is the joiners' first frame."""
        self._answering = True

    def take_answer(self) -> bool:
        """Whether the result just received is the joiners' first frame (the group's side)."""
        answering, self._answering = self._answering, False
        return answering


# --- syncStatus ------------------------------------------------------------------------


def _connection_state(row: CalendarConnection) -> tuple[object, ...]:
    return (
        row.status,
        row.sync_state,
        row.last_synced_at,
        row.last_error,
        row.events_synced,
        row.calendar_sync_enabled,
        row.task_sync_enabled,
        row.scheduling_pages_enabled,
    )


async def watch_connection(
    services: Services,
    viewer: Viewer | None,
    connection_id: int | None,
    joins: LateJoins | None = None,
) -> AsyncGenerator[CalendarConnection, None]:
    """The viewer's connection now and after every change of its status, sync state or
    toggles (C1). Raises before the first item: PermissionDenied for anonymous sessions
    (C10), NotFound for an unknown or foreign id (C9); ends if the row disappears.
    A late joiner (`joins`) is answered with the row read afresh."""
    viewer = require_viewer(viewer, Scope.READ)
    if connection_id is None:
        raise NotFoundError("calendar connection", field="connectionId")
    with services.pubsub.subscribe(CONNECTION, str(connection_id)) as changes:
        [row] = await reads.connections(services.sessionmaker, viewer, [connection_id])
        if row is None:
            raise NotFoundError("calendar connection", field="connectionId")
        if joins is not None:
            joins.by_snapshot(changes.wake)  # a wake-up re-reads the row
        last = _connection_state(row)
        yield row
        async for _ in changes:
            [row] = await reads.connections(services.sessionmaker, viewer, [connection_id])
            if row is None:
                return
            state = _connection_state(row)
            if state != last:
                last = state
                yield row
            if joins is not None and joins.take_request():
                joins.answer()
                yield row


# --- bookingEvents --------------------------------------------------------------------

# Event ids are taken at insert but become visible at commit, so a concurrent transaction's
# smaller id can appear after a larger one was shown: the last ids shown are kept and the
# read starts below the smallest of them, so such a late event is still shown once.
SEEN_WINDOW = 64
EVENTS_PER_READ = 200


async def _booking_events(
    services: Services, viewer: Viewer, floor: int, seen: deque[int]
) -> list[tuple[BookingEvent, Booking]]:
    async with services.sessionmaker() as session:
        rows = await session.execute(
            select(BookingEvent, Booking)
            .join(Booking, Booking.id == BookingEvent.booking_id)
            .where(
                BookingEvent.account_id == viewer.account_id,
                BookingEvent.host_user_id == viewer.user_id,
                BookingEvent.id > floor,
            )
            .order_by(BookingEvent.id)
            .limit(EVENTS_PER_READ + len(seen))
        )
        return [(event, booking) for event, booking in rows.all() if event.id not in seen]


async def watch_booking_events(
    services: Services, viewer: Viewer | None, joins: LateJoins | None = None
) -> AsyncGenerator[tuple[BookingEvent, Booking], None]:
    """The viewer's own bookings' events from now on, each with its booking as it is now
    (C21). Members and admins alike see the bookings they host only (C38 gives the whole
    account to admins' webhook endpoints, not to this stream). Raises PermissionDenied
    before the first item for anonymous sessions (C10). Late joiners (`joins`) get the
    events from when they join, as a stream of their own would."""
    viewer = require_viewer(viewer, Scope.READ)
    if joins is not None:
        joins.immediately()
    with services.pubsub.subscribe(BOOKING, str(viewer.user_id)) as changes:
        async with services.sessionmaker() as session:
            latest = await session.scalars(
                select(BookingEvent.id)
                .where(
                    BookingEvent.account_id == viewer.account_id,
                    BookingEvent.host_user_id == viewer.user_id,
                )
                .order_by(BookingEvent.id.desc())
                .limit(SEEN_WINDOW)
            )
            seen: deque[int] = deque(sorted(latest), maxlen=SEEN_WINDOW)
        async for _ in changes:
            while True:
                floor = min(seen, default=0)
                found = await _booking_events(services, viewer, floor, seen)
                for event, booking in found:
                    seen.append(event.id)
                    yield event, booking
                if len(found) < EVENTS_PER_READ:
                    break


# --- availabilityChanged ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AvailabilityRequest:
    slug: str
    domain: str | None
    start: dt.datetime
    end: dt.datetime
    duration: int | None
    time_zone: str


@dataclass(frozen=True, slots=True)
class AvailabilityEvent:
    """Days (in the subscriber's zone) whose slots changed; each with all its slots now,
    an empty list when the day has none left. `snapshot`: every day with slots."""

    snapshot: bool
    offline: bool
    duration: int
    days: list[tuple[dt.date, list[Slot]]]


Outcome = PageSlots | DomainError


@dataclass(eq=False)
class _Computed:
    """One computation's outcome, with its slots grouped by day once per time zone for
    every subscriber that shares it."""

    outcome: Outcome
    _by_zone: dict[str, dict[dt.date, list[Slot]]] = field(default_factory=dict)

    def days(self, time_zone: str) -> dict[dt.date, list[Slot]]:
        assert not isinstance(self.outcome, DomainError)
        days = self._by_zone.get(time_zone)
        if days is None:
            days = self._by_zone[time_zone] = dict(group_by_day(self.outcome.slots, time_zone))
        return days


@dataclass
class _Shown:
    """What a subscriber of `watch_availability` was last shown: the days (in its zone)
    with the outcome they came from, or the error in their place."""

    zone: str
    days: dict[dt.date, list[Slot]] | None = None
    slots: PageSlots | None = None
    error: DomainError | None = None

    def advance(self, computed: _Computed) -> AvailabilityEvent | DomainError | None:
        """The event that brings the subscriber to `computed` (None: nothing changed)."""
        outcome = computed.outcome
        if isinstance(outcome, NotFoundError):
            return outcome
        if isinstance(outcome, DomainError):
            if type(outcome) is type(self.error):
                return None
            self.days, self.slots, self.error = None, None, outcome
            return outcome
        days = computed.days(self.zone)
        shown, self.days, self.slots, self.error = self.days, days, outcome, None
        if shown is None:
            return self.first()
        changed = sorted(
            day for day in shown.keys() | days.keys() if shown.get(day) != days.get(day)
        )
        if not changed:
            return None
        return AvailabilityEvent(
            snapshot=False,
            offline=outcome.offline,
            duration=outcome.duration,
            days=[(day, days.get(day, [])) for day in changed],
        )

    def first(self) -> AvailabilityEvent | DomainError:
        """What a new subscriber gets first: the snapshot of what is shown, or its error."""
        if self.error is not None:
            return self.error
        assert self.days is not None
        assert self.slots is not None
        return AvailabilityEvent(
            snapshot=True,
            offline=self.slots.offline,
            duration=self.slots.duration,
            days=list(self.days.items()),
        )


async def watch_availability(
    services: Services, request: AvailabilityRequest, joins: LateJoins | None = None
) -> AsyncGenerator[AvailabilityEvent | DomainError, None]:
    """A snapshot, then the changed days after every booking, cancellation or calendar
    change of the page's host. Raises before the first item for a bad request or unknown
    page; later errors are yielded (once per change of kind) and watching goes on, except
    NotFound (the page was deleted), which ends the stream. A late joiner (`joins`) is
    answered with a snapshot computed afresh, after the delta (if any) that brings the
    current subscribers to the same state."""
    zone = rules.check_time_zone("timeZone", request.time_zone)
    public = await get_public_page(services, request.slug, request.domain)

    async def recompute() -> Outcome:
        try:
            return await available_slots(
                services,
                slug=request.slug,
                domain=request.domain,
                start=request.start,
                end=request.end,
                duration=request.duration,
            )
        except DomainError as exc:
            return exc
        except Exception:  # never let one failure end every subscriber's feed
            log.exception("availability recomputation failed", page_id=public.page.id)
            return AvailabilityUnknownError(
                "Free times could not be computed just now; they will update shortly."
            )

    async def compute() -> _Computed:
        return _Computed(await recompute())

    key: FeedKey = (public.page.id, request.start, request.end, request.duration)
    with services.feeds.listen(services.pubsub, key, compute) as listener:
        computed = await compute()
        if isinstance(computed.outcome, NotFoundError | InvalidInput):
            raise computed.outcome
        if joins is not None:
            joins.by_snapshot(listener.wake.set)
        shown = _Shown(zone)
        answer_joiners = False
        while True:
            event = shown.advance(computed)
            if event is not None:
                yield event
            if isinstance(event, NotFoundError):
                return
            if answer_joiners and joins is not None:
                answer_joiners = False
                joins.answer()
                yield shown.first()
            if joins is not None and joins.take_request():
                listener.restart()  # a notice's computation under way may predate this one
                computed, answer_joiners = await compute(), True
                continue
            await listener.wake.wait()
            listener.wake.clear()
            if listener.ended:
                return
            computed = listener.take() or computed  # None: woken for late joiners only
