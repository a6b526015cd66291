"""Schema assembly: roots (every mutation answering its domain errors through
`DomainErrors`, and unsafe text in its input through `UnsafeInputAnswered`) plus the
hardening extensions (limits, caches, unsafe text, masking) and the request metrics."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Coroutine
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

import strawberry
import structlog
from strawberry.extensions import AddValidationRules
from strawberry.extensions import DisableIntrospection
from strawberry.extensions import MaxAliasesLimiter
from strawberry.extensions import MaxTokensLimiter
from strawberry.extensions import QueryDepthLimiter
from strawberry.extensions import SchemaExtension
from strawberry.extensions import ValidationCache
from strawberry.schema.config import StrawberryConfig

from slotgraph.graph.completion import CompletingOnce
from slotgraph.graph.extensions import AnsweredParserCache
from slotgraph.graph.extensions import DomainErrors
from slotgraph.graph.extensions import FreshLoaders
from slotgraph.graph.extensions import MaskUnexpectedErrors
from slotgraph.graph.extensions import is_unexpected
from slotgraph.graph.limits import PublicWrite
from slotgraph.graph.metrics import RequestMetrics
from slotgraph.graph.mutations import api_tokens
from slotgraph.graph.mutations import booking_decisions
from slotgraph.graph.mutations import bookings
from slotgraph.graph.mutations import connections
from slotgraph.graph.mutations import domains
from slotgraph.graph.mutations import manage_bookings
from slotgraph.graph.mutations import meetings
from slotgraph.graph.mutations import pages
from slotgraph.graph.mutations import settings
from slotgraph.graph.mutations import tasks
from slotgraph.graph.mutations import users
from slotgraph.graph.mutations import webhooks
from slotgraph.graph.queries import Query
from slotgraph.graph.results import result_union
from slotgraph.graph.subscriptions import Subscription
from slotgraph.graph.types.accounts import ConnectedDomain
from slotgraph.graph.types.accounts import InboxConnection
from slotgraph.graph.types.api_tokens import ApiToken
from slotgraph.graph.types.bookings import Booking
from slotgraph.graph.types.bookings import Contact
from slotgraph.graph.types.connections import CalendarConnection
from slotgraph.graph.types.connections import RemoteCalendar
from slotgraph.graph.types.pages import SchedulingPage
from slotgraph.graph.types.settings import CalendarSettings
from slotgraph.graph.types.tasks import Task
from slotgraph.graph.types.users import User
from slotgraph.graph.types.webhooks import WebhookDelivery
from slotgraph.graph.types.webhooks import WebhookEndpoint
from slotgraph.graph.validation import UnsafeInputAnswered
from slotgraph.graph.validation import UnsafeTextRefused

if TYPE_CHECKING:
    from graphql import GraphQLError
    from strawberry.types import ExecutionContext

T = TypeVar("T")
log = structlog.get_logger("slotgraph.graphql")


def _mutation(resolver: Callable[..., Coroutine[Any, Any, T]], *, public: bool = False) -> T:
    """A mutation field: it declares its result union, and `DomainErrors` answers the domain
    errors its resolver raises with that union's members, unsafe text in its input
    (`UnsafeInputAnswered`, inside it) included. A `public` one (anonymous callers allowed)
    is limited per client address first (C25, C33: `PublicWrite`, outermost)."""
    # strawberry types the field as its resolver's result, as for a mutation declared inline
    # (mypy cannot pick that overload for a generic resolver). Strawberry nests field
    # extensions so that the last one listed runs first: DomainErrors wraps the check.
    limits = [PublicWrite()] if public else []
    field: T = strawberry.mutation(
        resolver=resolver,
        graphql_type=result_union(resolver),
        extensions=[UnsafeInputAnswered(), DomainErrors(), *limits],
    )
    return field


def _public_mutation(resolver: Callable[..., Coroutine[Any, Any, T]]) -> T:
    return _mutation(resolver, public=True)


@strawberry.type
class Mutation:
    update_calendar_settings = _mutation(settings.update_calendar_settings)
    create_scheduling_page = _mutation(pages.create_scheduling_page)
    update_scheduling_page = _mutation(pages.update_scheduling_page)
    delete_scheduling_page = _mutation(pages.delete_scheduling_page)
    start_calendar_connection = _mutation(connections.start_calendar_connection)
    connect_exchange_calendar = _mutation(connections.connect_exchange_calendar)
    connect_cal_dav_calendar = _mutation(connections.connect_cal_dav_calendar)
    disconnect_calendar = _mutation(connections.disconnect_calendar)
    disconnect_inbox = _mutation(connections.disconnect_inbox)
    sync_calendar_connection = _mutation(connections.sync_calendar_connection)
    set_availability_calendars = _mutation(connections.set_availability_calendars)
    set_meetings_calendar = _mutation(connections.set_meetings_calendar)
    book_meeting = _public_mutation(bookings.book_meeting)
    cancel_booking = _mutation(manage_bookings.cancel_booking)
    reschedule_booking = _mutation(manage_bookings.reschedule_booking)
    cancel_booking_as_contact = _public_mutation(manage_bookings.cancel_booking_as_contact)
    reschedule_booking_as_contact = _public_mutation(manage_bookings.reschedule_booking_as_contact)
    confirm_booking = _mutation(booking_decisions.confirm_booking)
    decline_booking = _mutation(booking_decisions.decline_booking)
    create_meeting = _mutation(meetings.create_meeting)
    update_connected_domain = _mutation(domains.update_connected_domain)
    add_connected_domain = _mutation(domains.add_connected_domain)
    verify_connected_domain = _mutation(domains.verify_connected_domain)
    remove_connected_domain = _mutation(domains.remove_connected_domain)
    update_calendar_connection = _mutation(connections.update_calendar_connection)
    create_task = _mutation(tasks.create_task)
    update_task = _mutation(tasks.update_task)
    complete_task = _mutation(tasks.complete_task)
    delete_task = _mutation(tasks.delete_task)
    create_api_token = _mutation(api_tokens.create_api_token)
    revoke_api_token = _mutation(api_tokens.revoke_api_token)
    create_user = _mutation(users.create_user)
    update_user = _mutation(users.update_user)
    deactivate_user = _mutation(users.deactivate_user)
    reactivate_user = _mutation(users.reactivate_user)
    create_webhook_endpoint = _mutation(webhooks.create_webhook_endpoint)
    update_webhook_endpoint = _mutation(webhooks.update_webhook_endpoint)
    rotate_webhook_secret = _mutation(webhooks.rotate_webhook_secret)
    delete_webhook_endpoint = _mutation(webhooks.delete_webhook_endpoint)
    redeliver_webhook = _mutation(webhooks.redeliver_webhook)


NODE_TYPES = (
    User,
    CalendarSettings,
    SchedulingPage,
    ConnectedDomain,
    InboxConnection,
    CalendarConnection,
    RemoteCalendar,
    Booking,
    Contact,
    Task,
    ApiToken,
    WebhookEndpoint,
    WebhookDelivery,
)


class SlotgraphSchema(strawberry.Schema):
    """Strawberry's schema, logging a client's mistakes (syntax, validation, bad variables)
    as one line without a traceback; Strawberry logs every error with its traceback at
    ERROR. Unexpected errors are logged by `MaskUnexpectedErrors` with the request id."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if not is_unexpected(error):
                log.info("request error", message=error.message[:200], path=error.path)


def build_schema(
    *,
    introspection: bool = False,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 2_000,
) -> strawberry.Schema:
    # The limits' validation rules, made once per schema. QueryDepthLimiter and
    # MaxAliasesLimiter build a new rule class in every instance, and ValidationCache keys
    # on the rule classes: with a limiter made per operation, every operation missed the
    # cache and was validated from scratch (about half of GraphQL's cost, BENCHMARKS.md).
    rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    if not introspection:
        rules += DisableIntrospection().validation_rules
    # Factories, so every operation gets fresh extension state; the parser and validation
    # caches live at module level in strawberry and are shared all the same.
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: AnsweredParserCache(maxsize=1_000),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=1_000),
        UnsafeTextRefused,
        FreshLoaders,
        MaskUnexpectedErrors,
        # After the masking, so it sees errors unmasked (its hooks exit first).
        RequestMetrics,
    ]
    return SlotgraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=CompletingOnce,
    )
