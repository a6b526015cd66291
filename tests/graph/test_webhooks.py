"""Webhooks to the example receiver over real HTTP (C22, C38, C46): signed and verified,
retried with the same `webhook-id`, logged attempt by attempt, redelivered; loopback refused
in production; endpoints and deliveries invisible across accounts (C9)."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.jobs.deliveries.webhooks import WebhookPolicy
from slotgraph.jobs.deliveries.webhooks import Webhooks
from slotgraph.jobs.mail import SmtpSecurity
from slotgraph.jobs.outbox import Outbox
from slotgraph.models import OutboxMessage
from slotgraph.models import WebhookDelivery
from slotgraph.models import WebhookEndpoint
from slotgraph.models.enums import Role
from slotgraph.models.enums import Scope
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from slotgraph.providers.outbound import Trust
from slotgraph.server.settings import Settings
from slotgraph.server.worker import build_queue
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book
from tests.helpers.bookings import page_and_nine
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import eventually
from tests.helpers.jobs import make_due
from tests.helpers.jobs import make_outbox
from tests.helpers.jobs import working
from tests.helpers.smtp import SENDER
from tests.helpers.smtp import Inbox
from tests.helpers.smtp import smtp_server
from tests.helpers.webhooks import create_endpoint
from tests.helpers.webhooks import deliver_to
from tests.helpers.webhooks import hook_app
from tests.helpers.webhooks import receiving

DELIVERIES = """
query { viewer { webhookEndpoints { edges { node {
  id enabled
  recentDeliveries {
    id webhookId eventType status attempts lastResponseCode lastAttemptAt nextAttemptAt
    attemptLog { responseCode error }
  }
} } } } }
"""
REDELIVER = """
mutation Again($id: ID!) {
  redeliverWebhook(input: {deliveryId: $id}) {
    __typename
    ... on RedeliverWebhookSuccess { delivery { webhookId status } }
    ... on Error { code field }
  }
}
"""
UPDATE = """
mutation Update($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) {
    __typename
    ... on UpdateWebhookEndpointSuccess { webhookEndpoint { enabled } }
    ... on Error { code field }
  }
}
"""
ROTATE = """
mutation Rotate($id: ID!) {
  rotateWebhookSecret(input: {id: $id, overlapHours: 1}) {
    __typename
    ... on CreateWebhookEndpointSuccess { secret }
    ... on Error { code }
  }
}
"""
DELETE = """
mutation Delete($id: ID!) {
  deleteWebhookEndpoint(input: {id: $id}) { __typename ... on Error { code } }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"


async def _deliveries(gql: GraphQLClient, token: str) -> list[dict[str, Any]]:
    result = await gql(DELIVERIES, token=token)
    assert "errors" not in result, result
    (edge,) = result["data"]["viewer"]["webhookEndpoints"]["edges"]
    found: list[dict[str, Any]] = edge["node"]["recentDeliveries"]
    return found


async def test_a_receiver_answering_503_twice_gets_one_webhook_id_three_times_then_redelivery(
    factory: Factory, settings: Settings, database_url: str
) -> None:
    async with hook_app(settings, database_url) as (app, gql):
        ada, slug, nine = await page_and_nine(gql, factory)
        with receiving() as receiver:
            created = await create_endpoint(
                gql, ada.token, receiver.url, eventTypes=["booking.created"]
            )
            assert created["__typename"] == "CreateWebhookEndpointSuccess", created
            assert created["secret"].startswith("whsec_")
            receiver.use_secret(created["secret"])
            receiver.fail_first, receiver.retry_after = 2, "0"
            booked = await book(gql, slug, nine)
            queue = build_queue(app.state.runtime, database_url)
            async with working(queue):
                await eventually(lambda: _has(receiver.events, 1))
                (webhook_id,) = receiver.events
                assert receiver.seen == [webhook_id] * 3
                event = receiver.events[webhook_id]
                assert event["type"] == "booking.created"
                assert event["data"]["id"] == booked["booking"]["id"]
                assert event["data"]["status"] == "REQUESTED"
                assert event["data"]["contact"]["email"] == "Cleo@Example.test"

                async def recorded() -> bool:
                    return bool((await _deliveries(gql, ada.token))[0]["status"] == "DELIVERED")

                await eventually(recorded)
                (delivery,) = await _deliveries(gql, ada.token)
                assert delivery["webhookId"] == webhook_id
                assert (delivery["attempts"], delivery["lastResponseCode"]) == (3, 204)
                assert delivery["nextAttemptAt"] is None
                assert delivery["lastAttemptAt"]
                assert [a["responseCode"] for a in delivery["attemptLog"]] == [503, 503, 204]
                assert delivery["attemptLog"][0]["error"] == "The endpoint answered HTTP 503."

                again = await gql(REDELIVER, {"id": delivery["id"]}, token=ada.token)
                assert again["data"]["redeliverWebhook"]["__typename"] == "RedeliverWebhookSuccess"
                await eventually(lambda: _seen(receiver.seen, 4))
                assert receiver.seen == [webhook_id] * 4

                async def four() -> bool:
                    (found,) = await _deliveries(gql, ada.token)
                    return bool(found["attempts"] == 4 and found["status"] == "DELIVERED")

                await eventually(four)


async def _has(events: dict[str, Any], count: int) -> bool:
    return len(events) >= count


async def _seen(seen: list[str], count: int) -> bool:
    return len(seen) >= count


async def test_a_rotated_secret_signs_beside_the_previous_one_during_the_overlap(
    factory: Factory, settings: Settings, database_url: str
) -> None:
    async with hook_app(settings, database_url) as (app, gql):
        ada, slug, nine = await page_and_nine(gql, factory)
        with receiving() as receiver:
            created = await create_endpoint(gql, ada.token, receiver.url)
            endpoint_id = created["webhookEndpoint"]["id"]
            rotated = await gql(ROTATE, {"id": endpoint_id}, token=ada.token)
            new_secret = rotated["data"]["rotateWebhookSecret"]["secret"]
            assert new_secret != created["secret"]
            receiver.use_secret(created["secret"])  # a receiver not switched over yet
            await book(gql, slug, nine)
            async with working(build_queue(app.state.runtime, database_url)):
                await eventually(lambda: _has(receiver.events, 1))
        async with app.state.runtime.sessionmaker() as session:
            row = (await session.execute(select(WebhookEndpoint))).scalar_one()
        for secret in (created["secret"], new_secret):  # sealed at rest, never in the clear
            assert secret.encode() not in row.secrets
            assert secret.removeprefix("whsec_").encode() not in row.secrets


async def test_member_endpoints_hear_only_their_own_and_account_wide_needs_an_admin(
    factory: Factory,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with hook_app(settings, database_url) as (_, gql):
        ada, slug, nine = await page_and_nine(gql, factory)
        bea = await factory.person(account=ada.account, name="Bea", role=Role.MEMBER)
        boss = await factory.person(account=ada.account, name="Boss", role=Role.ADMIN)
        url = "http://127.0.0.1:9/webhooks"
        refused = await create_endpoint(gql, bea.token, url, accountWide=True)
        assert (refused["__typename"], refused["code"]) == ("PermissionDenied", "PERMISSION_DENIED")
        await create_endpoint(gql, bea.token, url)
        await create_endpoint(gql, ada.token, url)
        wide = await create_endpoint(gql, boss.token, url, accountWide=True)
        assert wide["__typename"] == "CreateWebhookEndpointSuccess", wide
        await book(gql, slug, nine)
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(WebhookEndpoint.user_id, WebhookDelivery.event_type).join(
                    WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id
                )
            )
        ).all()
    assert sorted(user for user, _ in rows) == sorted([ada.user.id, boss.user.id])


async def test_loopback_urls_are_refused_in_production_at_creation_and_at_delivery(
    factory: Factory,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada = await factory.person()
    # Production: no network beyond the public ones allowed (the suite allows loopback).
    async with hook_app(settings, database_url, outbound_allowed_networks=()) as (_, gql):
        for url in (
            "http://127.0.0.1:8080/hook",
            "https://localhost/hook",
            "https://[::1]/hook",
            "https://10.0.0.7/hook",
        ):
            refused = await create_endpoint(gql, ada.token, url)
            assert (refused["__typename"], refused["field"]) == ("ValidationError", "url"), url
        plain = await create_endpoint(gql, ada.token, "http://hooks.example.test/in")
        assert plain["message"] == "Give an https:// URL: events are sent over TLS only."

    # An endpoint that was allowed (a name may resolve anywhere at delivery): the address
    # is checked where the connection is made.
    async with hook_app(settings, database_url) as (app, hook_gql):
        host, slug, nine = await page_and_nine(hook_gql, factory)
        with receiving() as receiver:
            await deliver_to(hook_gql, host.token, receiver)
            await book(hook_gql, slug, nine)
            services = app.state.runtime.services
            production = Webhooks(sessionmaker, services.credentials, Trust(), WebhookPolicy())
            outbox = Outbox(sessionmaker, [production])
            async with sessionmaker() as session:
                row = (
                    await session.execute(
                        select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.WEBHOOK)
                    )
                ).scalar_one()
            outcome = await outbox.deliver(row.id)
            assert outcome.state is OutboxState.FAILED  # retrying cannot make it public
            assert receiver.seen == []
            (delivery,) = await _deliveries(hook_gql, host.token)
    assert delivery["status"] == "FAILED"
    assert delivery["attemptLog"] == [
        {
            "responseCode": None,
            "error": "That server address is on a private, loopback or link-local network, "
            "which this service does not connect to; use the server's public address.",
        }
    ]


def told(inbox: Inbox) -> list[EmailMessage]:
    """The emails telling an owner an endpoint was disabled (beside the booking's own)."""
    return [m for m in inbox.messages if m["Subject"] == "A webhook endpoint was disabled"]


async def test_an_endpoint_failing_for_three_days_is_disabled_and_its_owner_emailed(
    factory: Factory,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with smtp_server() as inbox:
        smtp = {"smtp_host": "127.0.0.1", "smtp_port": inbox.port, "smtp_from": SENDER}
        async with hook_app(settings, database_url, smtp_security=SmtpSecurity.NONE, **smtp) as (
            app,
            gql,
        ):
            ada, slug, nine = await page_and_nine(gql, factory)
            with receiving() as receiver:
                await deliver_to(gql, ada.token, receiver)
                receiver.fail_first = 100
                long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=73)
                async with sessionmaker.begin() as session:
                    await session.execute(update(WebhookEndpoint).values(failing_since=long_ago))
                await book(gql, slug, nine)
                # The worker as `slotgraph worker` builds it: its mailer is the SMTP settings'.
                async with working(build_queue(app.state.runtime, database_url)):

                    async def disabled_and_told() -> bool:
                        async with sessionmaker() as session:
                            row = (await session.execute(select(WebhookEndpoint))).scalar_one()
                        return row.disabled_at is not None and len(told(inbox)) == 1

                    await eventually(disabled_and_told)
                (delivery,) = await _deliveries(gql, ada.token)
                assert delivery["status"] == "FAILED"
                again = await gql(REDELIVER, {"id": delivery["id"]}, token=ada.token)
                assert again["data"]["redeliverWebhook"] == {
                    "__typename": "ValidationError",
                    "code": "VALIDATION",
                    "field": "deliveryId",
                }
    (message,) = told(inbox)  # received by a real SMTP server, parsed back
    assert message["To"] == ada.user.email
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert receiver.url in body.get_content()


async def test_endpoints_and_deliveries_are_invisible_across_accounts(
    factory: Factory, settings: Settings, database_url: str
) -> None:
    async with hook_app(settings, database_url) as (_, gql):
        ada, slug, nine = await page_and_nine(gql, factory)
        eve = await factory.person(name="Eve")
        created = await create_endpoint(gql, ada.token, "http://127.0.0.1:9/hook")
        endpoint_id = created["webhookEndpoint"]["id"]
        await book(gql, slug, nine)
        (delivery,) = await _deliveries(gql, ada.token)
        for node_id, type_name in (
            (endpoint_id, "WebhookEndpoint"),
            (delivery["id"], "WebhookDelivery"),
        ):
            own = await gql(NODE, {"id": node_id}, token=ada.token)
            assert own["data"]["node"] == {"__typename": type_name, "id": node_id}
            foreign = await gql(NODE, {"id": node_id}, token=eve.token)
            assert foreign == {"data": {"node": None}}
        moved = await gql(UPDATE, {"input": {"id": endpoint_id, "enabled": False}}, token=eve.token)
        assert moved["data"]["updateWebhookEndpoint"] == {
            "__typename": "NotFound",
            "code": "NOT_FOUND",
            "field": "id",
        }
        again = await gql(REDELIVER, {"id": delivery["id"]}, token=eve.token)
        assert again["data"]["redeliverWebhook"]["code"] == "NOT_FOUND"
        gone = await gql(DELETE, {"id": endpoint_id}, token=eve.token)
        assert gone["data"]["deleteWebhookEndpoint"]["code"] == "NOT_FOUND"
        listed = await gql(
            "query { viewer { webhookEndpoints { edges { node { id } } } } }", token=eve.token
        )
        assert listed["data"]["viewer"]["webhookEndpoints"]["edges"] == []
        no_scope = await factory.person(name="Reader", scopes=(Scope.READ,))
        denied = await create_endpoint(gql, no_scope.token, "http://127.0.0.1:9/hook")
        assert denied["code"] == "PERMISSION_DENIED"
        deleted = await gql(DELETE, {"id": endpoint_id}, token=ada.token)
        assert (
            deleted["data"]["deleteWebhookEndpoint"]["__typename"] == "DeleteWebhookEndpointSuccess"
        )


DECIDE = """
mutation Decide($confirm: ConfirmBookingInput!, $decline: DeclineBookingInput!) {
  confirmBooking(input: $confirm) { __typename }
  declineBooking(input: $decline) { __typename }
}
"""
CANCEL = """
mutation Cancel($input: CancelBookingInput!) { cancelBooking(input: $input) { __typename } }
"""


async def test_every_booking_event_of_the_seam_becomes_a_delivery_in_its_transaction(
    factory: Factory,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with hook_app(settings, database_url) as (_, gql):
        ada, slug, nine = await page_and_nine(gql, factory)
        await create_endpoint(gql, ada.token, "http://127.0.0.1:9/hook")
        first = (await book(gql, slug, nine))["booking"]["id"]
        second = (await book(gql, slug, nine + dt.timedelta(minutes=30)))["booking"]["id"]
        decided = await gql(
            DECIDE,
            {"confirm": {"bookingId": first}, "decline": {"bookingId": second, "reason": "No"}},
            token=ada.token,
        )
        assert decided["data"] == {
            "confirmBooking": {"__typename": "ConfirmBookingSuccess"},
            "declineBooking": {"__typename": "DeclineBookingSuccess"},
        }
        cancelled = await gql(CANCEL, {"input": {"bookingId": first}}, token=ada.token)
        assert cancelled["data"]["cancelBooking"]["__typename"] == "CancelBookingSuccess"
    async with sessionmaker() as session:
        found = (
            await session.execute(
                select(WebhookDelivery.event_type, WebhookDelivery.payload, OutboxMessage.state)
                .join(OutboxMessage, OutboxMessage.id == WebhookDelivery.outbox_id)
                .order_by(WebhookDelivery.id)
            )
        ).all()
    assert [(kind, payload["data"]["id"]) for kind, payload, _ in found] == [
        ("booking.created", first),
        ("booking.created", second),
        ("booking.confirmed", first),
        ("booking.declined", second),
        ("booking.cancelled", first),
    ]
    assert [payload["data"]["status"] for _, payload, _ in found] == [
        "REQUESTED",
        "REQUESTED",
        "CONFIRMED",
        "DECLINED",
        "CANCELLED",
    ]
    assert {state for _, _, state in found} == {OutboxState.PENDING}


async def test_a_receivers_retry_after_is_honoured_up_to_its_bound(
    factory: Factory,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with hook_app(settings, database_url, webhook_max_retry_after_seconds=30.0) as (
        app,
        gql,
    ):
        ada, slug, nine = await page_and_nine(gql, factory)
        with receiving() as receiver:
            await deliver_to(gql, ada.token, receiver)
            receiver.fail_first = 2
            await book(gql, slug, nine)
            outbox = make_outbox(app)
            waits = []
            for asked in ("20", "86400"):  # seconds; the second beyond the 30 s bound
                receiver.retry_after = asked
                async with sessionmaker() as session:
                    row_id = (
                        await session.execute(
                            select(OutboxMessage.id).where(OutboxMessage.kind == OutboxKind.WEBHOOK)
                        )
                    ).scalar_one()
                await make_due(sessionmaker)
                outcome = await outbox.deliver(row_id)
                assert outcome.state is OutboxState.PENDING
                waits.append(outcome.retry_in)
    assert waits == [20.0, 30.0]  # the backoff itself is under a second here
