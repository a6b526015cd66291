"""Building the Exchange adapter against `tests.fakes.exchange.FakeExchange`, as from a
stored connection (explicit EWS URL, version and mailbox zone) unless told otherwise."""

from __future__ import annotations

import anyio

from slotgraph.providers.base import CalendarClient
from slotgraph.providers.exchange import ExchangeCalendarClient
from slotgraph.providers.exchange import ExchangeCredentials
from slotgraph.providers.retry import FAST
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.fakes.scenario import TIME_ZONE

TIMEOUT = 2.0


def creds_for(
    fake: FakeExchange,
    *,
    password: str = PASSWORD,
    username: str | None = None,
    ews_url: str | None = None,
    autodiscover: bool = False,
) -> ExchangeCredentials:
    """The login for the fake mailbox: its EWS URL unless `autodiscover` (then none)."""
    url = None if autodiscover else (ews_url or fake.url)
    return ExchangeCredentials(fake.email, password, username, url)


def client_for(
    fake: FakeExchange,
    limiter: anyio.CapacityLimiter,
    *,
    timeout: float = TIMEOUT,
    password: str = PASSWORD,
    version: str | None = "Exchange2016",
    time_zone: str | None = TIME_ZONE,
) -> CalendarClient:
    """A client as built from a stored connection (the static type checks the protocol)."""
    return ExchangeCalendarClient(
        ExchangeCredentials(fake.email, password),
        ews_url=fake.url,
        version=version,
        limiter=limiter,
        timeout=timeout,
        time_zone=time_zone,
        retry=FAST,
    )
