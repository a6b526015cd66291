"""A host connected to a real CalDAV server through `connectCalDavCalendar` (over the API,
as a user connects), and the Slotgraph events found on that server's calendar afterwards."""

from __future__ import annotations

import datetime as dt
import re

from icalendar import Calendar

from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.caldav import CalendarApp
from tests.helpers.caldav_servers import PASSWORD
from tests.helpers.caldav_servers import DavProxy
from tests.helpers.caldav_servers import Server
from tests.helpers.graphql import GraphQLClient

CONNECT = """
mutation($i: ConnectCalDavCalendarInput!) { connectCalDavCalendar(input: $i) {
  __typename ... on Error { message code } } }
"""


async def caldav_host(
    gql: GraphQLClient, factory: Factory, server: Server, proxy: DavProxy, n: int
) -> Person:
    ada = await factory.person(url_prefix="ada", name="Ada")
    connected = await gql(
        CONNECT,
        {
            "i": {
                "email": "ada@example.test",
                "username": server.user(n),
                "password": PASSWORD,
                "serverUrl": proxy.url,
            }
        },
        token=ada.token,
    )
    assert connected["data"]["connectCalDavCalendar"]["__typename"] == (
        "ConnectCalDavCalendarSuccess"
    ), connected
    return ada


def booking_events(app: CalendarApp) -> list[tuple[str, dt.datetime, dt.datetime, list[str]]]:
    """(summary, start, end, attendees) of the Slotgraph events on the server's calendar."""
    found: list[tuple[str, dt.datetime, dt.datetime, list[str]]] = []
    listing = app.http.request("PROPFIND", app.calendar_url, headers={"Depth": "1"}, content=b"")
    listing.raise_for_status()
    for href in sorted(set(_hrefs(listing.text))):
        if not href.endswith(".ics"):
            continue
        answer = app.http.get(app.calendar_url.split("/u")[0] + href)
        if answer.status_code == 404:
            continue  # deleted since the listing (a worker is writing meanwhile)
        answer.raise_for_status()
        data = answer.text
        for event in Calendar.from_ical(data).walk("VEVENT"):
            if not str(event["UID"]).startswith("slotgraph-"):
                continue
            found.append(
                (
                    str(event["SUMMARY"]),
                    event.decoded("DTSTART").astimezone(dt.UTC),
                    event.decoded("DTEND").astimezone(dt.UTC),
                    [str(a).removeprefix("mailto:") for a in _list(event.get("ATTENDEE"))],
                )
            )
    return found


def _hrefs(xml: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?href>([^<]+)</(?:\w+:)?href>", xml)


def _list(value: object) -> list[object]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
