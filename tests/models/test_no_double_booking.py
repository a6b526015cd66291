"""The database refuses overlapping live bookings of one host (S8, goal 4)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from slotgraph.models import Booking
from slotgraph.models import Contact
from slotgraph.models.enums import BookingStatus
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person

NINE = dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)


def booking(
    person: Person,
    contact: Contact,
    start: dt.datetime,
    minutes: int = 30,
    status: BookingStatus = BookingStatus.CONFIRMED,
) -> Booking:
    return Booking(
        account_id=person.account.id,
        host_user_id=person.user.id,
        contact_id=contact.id,
        title="Meeting",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=minutes),
        time_zone="UTC",
        status=status,
        answers={},
    )


async def test_overlapping_bookings_of_one_host_are_refused(factory: Factory) -> None:
    ada = await factory.person()
    contact = Contact(account_id=ada.account.id, email="c@example.test", name="C")
    await factory.add(contact)
    await factory.add(booking(ada, contact, NINE))
    with pytest.raises(IntegrityError, match="no_overlapping_bookings"):
        await factory.add(booking(ada, contact, NINE + dt.timedelta(minutes=15)))


async def test_adjacent_cancelled_and_other_hosts_bookings_are_fine(factory: Factory) -> None:
    ada = await factory.person()
    bob = await factory.person(account=ada.account)
    contact = Contact(account_id=ada.account.id, email="c@example.test", name="C")
    await factory.add(contact)
    await factory.add(booking(ada, contact, NINE, status=BookingStatus.CANCELLED))
    await factory.add(
        booking(ada, contact, NINE),  # over a cancelled one
        booking(ada, contact, NINE + dt.timedelta(minutes=30)),  # adjacent: [9:30, 10:00)
        booking(bob, contact, NINE),  # another host
    )
    with pytest.raises(IntegrityError, match="starts_before_end"):
        await factory.add(booking(ada, contact, NINE + dt.timedelta(hours=5), minutes=0))
