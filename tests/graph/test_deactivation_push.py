"""Deactivating a user stops their push channels at the provider (C50), against the Google
fake: the channel is stopped with Google's `channels.stop`, and its row is gone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.calsync.watches import WatchConfig
from slotgraph.calsync.watches import Watches
from slotgraph.graph.relay import to_global_id
from slotgraph.models import CalendarWatch
from slotgraph.models.enums import Role
from tests.helpers import google_app
from tests.helpers.accounts import Factory
from tests.helpers.google_app import GoogleFlow
from tests.helpers.google_app import connected_host

app = google_app.app
browser = google_app.browser
flow = google_app.flow

DEACTIVATE = """
mutation($id: ID!) { deactivateUser(input: {id: $id}) { __typename ... on Error { code } } }
"""


async def test_deactivation_stops_the_users_push_channels_at_google(
    flow: GoogleFlow,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, connection_id, _ = await connected_host(flow, factory)
    admin = await factory.person(name="Admin", account=ada.account, role=Role.ADMIN)
    watches = Watches(
        sessionmaker,
        app.state.runtime.services.connection_clients,
        WatchConfig(public_base_url="http://127.0.0.1:9"),  # nothing listens: as it may
    )
    assert await watches.ensure(connection_id) == 1
    [channel] = flow.google.live_channels()

    done = await flow.gql(DEACTIVATE, {"id": to_global_id("User", ada.user.id)}, token=admin.token)

    assert done["data"]["deactivateUser"]["__typename"] == "DeactivateUserSuccess"
    [stop] = flow.google.calls("channels.stop")
    assert (stop.status, stop.body) == (204, {"id": channel.id, "resourceId": channel.resource_id})
    assert flow.google.live_channels() == []
    async with sessionmaker() as session:
        assert (await session.execute(select(CalendarWatch))).first() is None
