"""A booking keeps one iCalendar UID for life and bumps its SEQUENCE on every reschedule and
cancellation, so calendars replace the invitation they hold (RFC 5545, C43)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.helpers.accounts import Factory
from tests.helpers.bookings import CANCEL_AS_CONTACT
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.bookings import rows
from tests.helpers.bookings import run
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page

MOVE = """
mutation Move($input: RescheduleBookingAsContactInput!) {
  rescheduleBookingAsContact(input: $input) { __typename }
}
"""


async def test_uid_stays_and_sequence_bumps_on_reschedule_and_cancel(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory, form_fields=[])
    token = (await book_with_token(gql, slug, nine))["manageToken"]
    (booked,), _ = await rows(sessionmaker)
    assert booked.ical_uid.endswith("@slotgraph")
    assert booked.sequence == 0

    ten = nine + dt.timedelta(hours=1)
    moved = await run(gql, MOVE, manageToken=token, start=ten.isoformat())
    assert moved["__typename"] == "RescheduleBookingAsContactSuccess"
    (after_move,), _ = await rows(sessionmaker)
    assert (after_move.ical_uid, after_move.sequence) == (booked.ical_uid, 1)

    cancelled = await run(gql, CANCEL_AS_CONTACT, manageToken=token)
    assert cancelled["__typename"] == "CancelBookingAsContactSuccess"
    (after_cancel,), _ = await rows(sessionmaker)
    assert (after_cancel.ical_uid, after_cancel.sequence) == (booked.ical_uid, 2)

    other_slug = await make_page(gql, ada, title="Other")
    await book_with_token(gql, other_slug, nine)
    _, second = (await rows(sessionmaker))[0]
    assert second.ical_uid != booked.ical_uid
