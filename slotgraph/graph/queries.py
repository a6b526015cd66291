"""Query root fields: `viewer`, `node` (Relay) and the public `schedulingPage`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Annotated
from typing import Any

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import AvailabilityUnknown
from slotgraph.graph.errors import ErrorCode
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PageUnavailable
from slotgraph.graph.errors import RateLimited
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.extensions import DomainErrors
from slotgraph.graph.limits import PublicRead
from slotgraph.graph.limits import PublicWrite
from slotgraph.graph.relay import Node
from slotgraph.graph.relay import from_global_id
from slotgraph.graph.types.accounts import ConnectedDomain
from slotgraph.graph.types.accounts import InboxConnection
from slotgraph.graph.types.api_tokens import ApiToken
from slotgraph.graph.types.availability import AvailableSlots
from slotgraph.graph.types.availability import SlotDay
from slotgraph.graph.types.bookings import Booking
from slotgraph.graph.types.bookings import BookingFormPrefill
from slotgraph.graph.types.bookings import Contact
from slotgraph.graph.types.bookings import FormAnswer
from slotgraph.graph.types.connections import CalendarConnection
from slotgraph.graph.types.connections import RemoteCalendar
from slotgraph.graph.types.managed import ManagedBooking
from slotgraph.graph.types.pages import PageUnavailableReason
from slotgraph.graph.types.pages import PublicSchedulingPage
from slotgraph.graph.types.pages import SchedulingPage
from slotgraph.graph.types.settings import CalendarSettings
from slotgraph.graph.types.tasks import Task
from slotgraph.graph.types.users import User
from slotgraph.graph.types.webhooks import WebhookDelivery
from slotgraph.graph.types.webhooks import WebhookEndpoint
from slotgraph.models.enums import Scope
from slotgraph.scheduling import rules
from slotgraph.scheduling.slots import group_by_day
from slotgraph.usecases import availability
from slotgraph.usecases import managed_booking
from slotgraph.usecases import pages as page_cases
from slotgraph.usecases import prefill
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.users import check_host_active

if TYPE_CHECKING:
    from slotgraph.graph.loaders import Loaders


# Views of one shared slot answer kept, one per time zone asked in.
MAX_ZONES_KEPT = 8

AvailableSlotsResult = Annotated[
    AvailableSlots | NotFound | PageUnavailable | AvailabilityUnknown | ValidationError,
    strawberry.union("AvailableSlotsResult"),
]

BookingFormPrefillResult = Annotated[
    BookingFormPrefill | NotFound | ValidationError,
    strawberry.union("BookingFormPrefillResult"),
]

ManagedBookingResult = Annotated[
    ManagedBooking | NotFound | RateLimited, strawberry.union("ManagedBookingResult")
]

PublicSchedulingPageResult = Annotated[
    PublicSchedulingPage | NotFound | PageUnavailable,
    strawberry.union("PublicSchedulingPageResult"),
]


async def _settings_node(loaders: Loaders, pk: int) -> CalendarSettings | None:
    row = await loaders.settings.load(pk)
    return None if row is None else CalendarSettings.from_row(row)


async def _page_node(loaders: Loaders, pk: int) -> SchedulingPage | None:
    row = await loaders.pages.load(pk)
    if row is None:
        return None
    return SchedulingPage.from_row(row, await loaders.base_urls.load(row.user_id))


def _simple(
    loader: Callable[[Loaders], Any], build: Callable[[Any], Node]
) -> Callable[[Loaders, int], Awaitable[Node | None]]:
    async def resolve(loaders: Loaders, pk: int) -> Node | None:
        row = await loader(loaders).load(pk)
        return None if row is None else build(row)

    return resolve


NODE_RESOLVERS: dict[str, Callable[[Loaders, int], Awaitable[Node | None]]] = {
    "User": _simple(lambda loaders: loaders.users, User.from_row),
    "CalendarSettings": _settings_node,
    "SchedulingPage": _page_node,
    "ConnectedDomain": _simple(lambda loaders: loaders.domains, ConnectedDomain.from_row),
    "InboxConnection": _simple(lambda loaders: loaders.inboxes, InboxConnection.from_row),
    "CalendarConnection": _simple(lambda loaders: loaders.connections, CalendarConnection.from_row),
    "RemoteCalendar": _simple(lambda loaders: loaders.remote_calendars, RemoteCalendar.from_row),
    "Booking": _simple(lambda loaders: loaders.bookings, Booking.from_row),
    "Contact": _simple(lambda loaders: loaders.contacts, Contact.from_row),
    "Task": _simple(lambda loaders: loaders.tasks, Task.from_row),
    "ApiToken": _simple(lambda loaders: loaders.api_tokens, ApiToken.from_row),
    "WebhookEndpoint": _simple(lambda loaders: loaders.webhook_endpoints, WebhookEndpoint.from_row),
    "WebhookDelivery": _simple(
        lambda loaders: loaders.webhook_deliveries, WebhookDelivery.from_row
    ),
}


@strawberry.type
class Query:
    @strawberry.field(
        description="The signed-in user; null when anonymous.", extensions=[DomainErrors()]
    )
    async def viewer(self, info: Info) -> User | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        viewer.require(Scope.READ)
        row = await info.context.loaders.users.load(viewer.user_id)
        return None if row is None else User.from_row(row)

    @strawberry.field(
        description="Refetch any object by global id; null for an unknown or foreign id (C9).",
        extensions=[DomainErrors()],
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        viewer = info.context.viewer
        decoded = from_global_id(id)
        if viewer is None or decoded is None:
            return None
        viewer.require(Scope.READ)
        type_name, pk = decoded
        resolve = NODE_RESOLVERS.get(type_name)
        if resolve is None:
            return None
        return await resolve(info.context.loaders, pk)

    @strawberry.field(
        description="A scheduling page as a contact sees it (public). `domain` is the host "
        "the link was opened on; omit it for the app domain.",
        extensions=[DomainErrors(), PublicRead("slug")],
    )
    async def scheduling_page(
        self, info: Info, slug: str, domain: str | None = None
    ) -> PublicSchedulingPageResult:
        services = info.context.services
        public = await page_cases.get_public_page(
            services, slug[:300], domain[:253] if domain else None, field="slug"
        )
        check_host_active(public.host)
        if not public.pages_enabled:
            return PageUnavailable(
                message=f"{public.host.name} is not taking bookings through scheduling pages "
                "right now; contact them directly.",
                field="slug",
                code=ErrorCode.PAGE_UNAVAILABLE,
                reason=PageUnavailableReason.PAGES_TURNED_OFF,
            )
        return PublicSchedulingPage.from_public(public, domain)

    @strawberry.field(
        description="Free slots of a page between `start` and `end` (at most 62 days), "
        "grouped by day in `timeZone` (public). `duration` defaults to the page's first.",
        extensions=[DomainErrors(), PublicRead("page_slug")],
    )
    async def available_slots(
        self,
        info: Info,
        page_slug: str,
        start: dt.datetime,
        end: dt.datetime,
        time_zone: str,
        duration: int | None = None,
        domain: str | None = None,
    ) -> AvailableSlotsResult:
        services = info.context.services
        try:
            zone = rules.check_time_zone("timeZone", time_zone)
        except rules.RuleError as exc:
            raise InvalidInput(exc.message, field=exc.field) from None
        found = await availability.available_slots(
            services,
            slug=page_slug[:300],
            domain=domain[:253] if domain else None,
            start=start,
            end=end,
            duration=duration,
        )
        # A shared answer serves many requests: its view per zone (and with it the data
        # completed from that view, `graph.completion`) is made once and kept with it.
        view: AvailableSlots | None = found.derived.get((AvailableSlots, zone))
        if view is None:
            view = AvailableSlots(
                duration=found.duration,
                time_zone=zone,
                offline=found.offline,
                days=[SlotDay.of(day, slots) for day, slots in group_by_day(found.slots, zone)],
            )
            if len(found.derived) < MAX_ZONES_KEPT:
                found.derived[(AvailableSlots, zone)] = view
        return view

    @strawberry.field(
        description="Prefill for a page's booking form from an earlier submission (public, "
        "S16): only on the account's custom domains, and only what the booking whose manage "
        "token is presented submitted (C26).",
        extensions=[DomainErrors(), PublicWrite()],
    )
    async def booking_form_prefill(
        self, info: Info, page_slug: str, domain: str, manage_token: str
    ) -> BookingFormPrefillResult:
        services = info.context.services
        found = await prefill.booking_form_prefill(
            services, slug=page_slug[:300], domain=domain[:253], manage_token=manage_token
        )
        return BookingFormPrefill(
            name=found.name,
            email=found.email,
            answers=[FormAnswer(question=q, answer=a) for q, a in sorted(found.answers.items())],
        )

    @strawberry.field(
        description="The booking whose manage token is presented (public; the token from "
        "bookMeeting is the only key, C41): the meeting, its host and its iCalendar. Anonymous "
        "calls share the strict write limit per address (C33: it tests a secret).",
        extensions=[DomainErrors(), PublicWrite()],
    )
    async def managed_booking(self, info: Info, manage_token: str) -> ManagedBookingResult:
        found = await managed_booking.managed_booking(info.context.services, manage_token)
        return ManagedBooking.of(found)
