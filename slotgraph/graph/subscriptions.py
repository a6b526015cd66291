"""Subscription root (graphql-transport-ws only): `syncStatus`, `availabilityChanged` and
`bookingEvents`.

Each stream starts with its current state and then follows change notices from any API
process (`slotgraph.notices.pubsub`). Expected failures are typed results, as for mutations: a
stream that cannot start yields one error and ends. A field extension wraps a resolver, not
the items of its stream, so the streams map their errors themselves (`error_result`).

Each resolver yields exactly one item per item of its use case's stream, so the late joiners'
frame a use case marks (`LateJoins.answer`) is the next result (grouped fan-out).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from collections.abc import Callable
from contextlib import aclosing
from typing import Annotated
from typing import Any
from typing import TypeVar

import strawberry

from slotgraph.calendars.sync_status import shown_sync_state
from slotgraph.graph import fanout
from slotgraph.graph.context import Info
from slotgraph.graph.errors import AvailabilityUnknown
from slotgraph.graph.errors import ErrorCode
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PageUnavailable
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.errors import error_result
from slotgraph.graph.relay import pk_of
from slotgraph.graph.relay import to_global_id
from slotgraph.graph.types.availability import SlotDay
from slotgraph.graph.types.bookings import Booking
from slotgraph.graph.types.bookings import BookingActorType
from slotgraph.graph.types.connections import CalendarConnection
from slotgraph.graph.types.connections import ConnectionStatusType
from slotgraph.graph.types.connections import SyncStateType
from slotgraph.models import Booking as BookingRow
from slotgraph.models import BookingEvent as EventRow
from slotgraph.models import CalendarConnection as ConnectionRow
from slotgraph.models.enums import BookingEventKind
from slotgraph.scheduling import rules
from slotgraph.usecases import subscriptions as use_case
from slotgraph.usecases.errors import DomainError

_Item = TypeVar("_Item")


@strawberry.type(description="A connection's status and sync state (C1), as of now.")
class SyncStatus:
    connection_id: strawberry.ID
    status: ConnectionStatusType  # type: ignore[valid-type]
    sync_state: SyncStateType  # type: ignore[valid-type]
    last_synced_at: dt.datetime | None
    last_error: str | None
    events_synced: int
    connection: CalendarConnection = strawberry.field(
        description="The whole connection, for client caches keyed by id."
    )

    @classmethod
    def from_row(cls, row: ConnectionRow) -> SyncStatus:
        return cls(
            connection_id=to_global_id("CalendarConnection", row.id),
            status=row.status,
            sync_state=shown_sync_state(row.status, row.sync_state, row.last_synced_at),
            last_synced_at=row.last_synced_at,
            last_error=row.last_error,
            events_synced=row.events_synced,
            connection=CalendarConnection.from_row(row),
        )


@strawberry.type(
    description="Days whose free slots changed, each with all its slots now (an empty list: "
    "none left). The first event is a snapshot of every day of the window with slots."
)
class AvailabilityChange:
    snapshot: bool
    duration: int
    time_zone: str
    offline: bool = strawberry.field(
        description="No calendar connected: a booking is a request, on no calendar (S7)."
    )
    days: list[SlotDay]


BookingEventKindType = strawberry.enum(
    BookingEventKind,
    name="BookingEventKind",
    description="CREATED: a confirmed booking; REQUESTED: an offline request (S7) waiting "
    "for your answer; then CONFIRMED, DECLINED (by you, or SYSTEM at its start, C42), "
    "RESCHEDULED, CANCELLED.",
)


@strawberry.type(description="Something that happened to one of your bookings (C21).")
class BookingEvent:
    kind: BookingEventKindType  # type: ignore[valid-type]
    occurred_at: dt.datetime
    actor: BookingActorType  # type: ignore[valid-type]
    reason: str | None = strawberry.field(description="The decline or cancellation reason.")
    booking: Booking = strawberry.field(description="The booking as it is now.")

    @classmethod
    def of(cls, happened: tuple[EventRow, BookingRow]) -> BookingEvent:
        """An item of `watch_booking_events`: the event and its booking as it is now."""
        event, booking = happened
        return cls(
            kind=event.kind,
            occurred_at=event.occurred_at,
            actor=event.actor,
            reason=event.reason,
            booking=Booking.from_row(booking),
        )


SyncStatusResult = Annotated[
    SyncStatus | NotFound | PermissionDenied, strawberry.union("SyncStatusResult")
]
BookingEventsResult = Annotated[
    BookingEvent | PermissionDenied, strawberry.union("BookingEventsResult")
]
AvailabilityChangedResult = Annotated[
    AvailabilityChange | NotFound | PageUnavailable | AvailabilityUnknown | ValidationError,
    strawberry.union("AvailabilityChangedResult"),
]


async def _answered(
    stream: AsyncGenerator[_Item, None], answer: Callable[[_Item], object], result_union: object
) -> AsyncGenerator[Any, None]:
    """A use case's stream as a subscription's results: each item answered, one result per
    item (the late joiners' frame stays the next result), a domain error raised by the stream
    as the union's error member (then the stream ends), and the stream closed however the
    subscription ends, a client leaving included. `Any`: the union is checked at run time."""
    try:
        async for item in stream:
            yield answer(item)
    except DomainError as exc:
        yield error_result(exc, result_union)
    finally:
        await stream.aclose()


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Your calendar connection's status and sync state now, then on every "
        "change (C1). Needs a token with the `read` scope in `connection_init` (C10)."
    )
    async def sync_status(
        self, info: Info, connection_id: strawberry.ID
    ) -> AsyncGenerator[SyncStatusResult, None]:
        services = info.context.services
        changes = use_case.watch_connection(
            services,
            info.context.viewer,
            pk_of(connection_id, "CalendarConnection"),
            fanout.late_joins(),
        )
        async with aclosing(_answered(changes, SyncStatus.from_row, SyncStatusResult)) as items:
            async for item in items:
                yield item

    @strawberry.subscription(
        description="Events of the bookings you host from now on: created or requested, "
        "confirmed, declined, rescheduled, cancelled (C21). Needs a token with the `read` "
        "scope in `connection_init` (C10); a revoked token ends it (C23)."
    )
    async def booking_events(self, info: Info) -> AsyncGenerator[BookingEventsResult, None]:
        events = use_case.watch_booking_events(
            info.context.services, info.context.viewer, fanout.late_joins()
        )
        async with aclosing(_answered(events, BookingEvent.of, BookingEventsResult)) as items:
            async for item in items:
                yield item

    @strawberry.subscription(
        description="A page's free slots between `start` and `end` (at most 62 days), by day "
        "in `timeZone` (public): a snapshot first, then the days that changed after each "
        "booking, cancellation or calendar change."
    )
    async def availability_changed(
        self,
        info: Info,
        page_slug: str,
        start: dt.datetime,
        end: dt.datetime,
        time_zone: str,
        duration: int | None = None,
        domain: str | None = None,
    ) -> AsyncGenerator[AvailabilityChangedResult, None]:
        services = info.context.services
        try:
            zone = rules.check_time_zone("timeZone", time_zone)
        except rules.RuleError as exc:
            yield ValidationError(message=exc.message, field=exc.field, code=ErrorCode.VALIDATION)
            return
        request = use_case.AvailabilityRequest(
            slug=page_slug[:300],
            domain=domain[:253] if domain else None,
            start=start,
            end=end,
            duration=duration,
            time_zone=zone,
        )
        events = use_case.watch_availability(services, request, fanout.late_joins())
        try:
            async for event in events:
                if isinstance(event, DomainError):
                    yield error_result(event, AvailabilityChangedResult)
                    continue
                yield AvailabilityChange(
                    snapshot=event.snapshot,
                    duration=event.duration,
                    time_zone=zone,
                    offline=event.offline,
                    days=[SlotDay.of(day, slots) for day, slots in event.days],
                )
        except DomainError as exc:
            yield error_result(exc, AvailabilityChangedResult)
        finally:
            await events.aclose()
