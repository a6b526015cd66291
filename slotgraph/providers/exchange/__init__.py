"""Exchange (EWS) adapter: connecting an Exchange 2010 SP2+ mailbox (S2, `connect`) and the
`CalendarClient` for it (`client`, with `sync` and `writes`), with create, update and delete
so that cancel and reschedule work on Exchange too (C11 lifts the S11 limits); EWS items ↔
our value types (`wire`), exchangelib plumbing (`ews`), failures → the provider error tree
(`errors`), and the registry's `ExchangeProvider` seam (`connector`).

exchangelib is synchronous and blocking, so every call runs in a worker thread under the
caller's `CapacityLimiter` (a slow Exchange server cannot starve the event loop), each HTTP
request carries the caller's timeout, and each call has an overall deadline after which the
thread is abandoned: a server that keeps failing yields a typed `ProviderError`, never a hang.
Exchange has no push channels here: its calendars are polled.

Secrets. The password lives in `ExchangeCredentials` (hidden from its repr) and exchangelib's
`Credentials` (masked in its repr); exchangelib's debug record of each POST lists the request
headers, Basic credentials included, so a logging filter (`ews`) redacts that header.

The names other code uses are importable from here.
"""

from slotgraph.providers.exchange.client import CLIENT_DEADLINE_FACTOR
from slotgraph.providers.exchange.client import FREE_BUSY_MAX_MAILBOXES
from slotgraph.providers.exchange.client import FREE_BUSY_MAX_SPAN
from slotgraph.providers.exchange.client import ExchangeCalendarClient
from slotgraph.providers.exchange.connect import CONNECT_DEADLINE
from slotgraph.providers.exchange.connect import ExchangeAccountInfo
from slotgraph.providers.exchange.connect import ExchangeCredentials
from slotgraph.providers.exchange.connect import connect_exchange
from slotgraph.providers.exchange.connector import ExchangeConnector
from slotgraph.providers.exchange.connector import ExchangeThreads
from slotgraph.providers.exchange.errors import AUTH_FAILED_MESSAGE
from slotgraph.providers.exchange.errors import MIN_BUILD_TEXT
from slotgraph.providers.exchange.ews import MAX_CONNECTIONS

__all__ = [
    "AUTH_FAILED_MESSAGE",
    "CLIENT_DEADLINE_FACTOR",
    "CONNECT_DEADLINE",
    "FREE_BUSY_MAX_MAILBOXES",
    "FREE_BUSY_MAX_SPAN",
    "MAX_CONNECTIONS",
    "MIN_BUILD_TEXT",
    "ExchangeAccountInfo",
    "ExchangeCalendarClient",
    "ExchangeConnector",
    "ExchangeCredentials",
    "ExchangeThreads",
    "connect_exchange",
]
