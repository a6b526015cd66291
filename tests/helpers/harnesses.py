"""One harness per adapter for the `CalendarClient` contract suite
(tests/providers/contract/): it builds the adapter's client against its protocol-level fake
and turns the suite's provider-neutral requests into that fake's own knobs.

Every harness starts with the shared scenario (`tests.fakes.scenario.EVENTS`) on the
account's primary calendar, `calendar_id`. Operations are named after the protocol's
methods; each harness maps them to the provider request that method sends (the one a fault
is put on and requests are counted by). A new adapter joins the suite with one class here
and one fixture in tests/providers/contract/conftest.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from typing import Literal
from typing import Protocol

import anyio
import httpx

from slotgraph.providers.base import CalendarClient
from slotgraph.providers.google import event_id_for
from tests.fakes.exchange import FakeExchange
from tests.fakes.google import FakeGoogle
from tests.fakes.microsoft import EMAIL
from tests.fakes.microsoft import FakeMicrosoft
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import utc
from tests.helpers.exchange import client_for
from tests.helpers.google import google_client
from tests.helpers.microsoft import SecretBox
from tests.helpers.microsoft import connect
from tests.helpers.microsoft import oauth_for

Operation = Literal[
    "list_calendars", "free_busy", "create_event", "create_calendar", "list_changes"
]


class Harness(Protocol):
    """What the contract suite asks of an adapter and its fake."""

    name: ClassVar[str]

    @property
    def calendar_id(self) -> str:
        """The primary calendar, holding the scenario."""
        ...

    def client(self, *, timeout: float) -> CalendarClient:
        """A client as built from a stored connection, with the FAST retry policy."""
        ...

    def fail_next(
        self,
        status: int,
        *,
        operation: Operation,
        times: int | None = 1,
        retry_after: float | None = None,
    ) -> None:
        """The next `times` requests (all when None) of `operation` answer `status` (429:
        throttled, 503: unavailable) in the provider's terms, asking to come back after
        `retry_after` seconds where given."""
        ...

    def hang(self, *, operation: Operation, times: int | None = None, seconds: float) -> None:
        """The next `times` requests of `operation` are carried out but answered only after
        `seconds`."""
        ...

    def reset(self) -> None:
        """No more faults."""
        ...

    def calls(self, operation: Operation) -> int:
        """How many requests of `operation` reached the server."""
        ...

    def seed(self, event: ScriptedEvent) -> str:
        """Put one more event on the primary calendar (as a calendar app would); its id."""
        ...

    def event_id(self, scenario_id: str) -> str:
        """The remote id of a scenario event."""
        ...

    def move_event(self, event_id: str, start: dt.datetime, end: dt.datetime) -> None: ...

    def remove_event(self, event_id: str) -> None: ...

    def expire_cursors(self) -> None:
        """The server forgets every sync cursor it gave out."""
        ...

    def squat(self, key: str) -> str:
        """An unrelated event, not written with `key`, sits where the adapter's look-up of
        `key` searches, and that look-up ignores its filter (a server that loosens it):
        the event holds the id the key derives (Google) and every key look-up answers every
        event. Returns the unrelated event's id."""
        ...

    def seed_unreadable(self, event: ScriptedEvent) -> str:
        """Put one more event on the primary calendar whose answer the adapter cannot read
        (a time missing, in the provider's own terms); its id."""
        ...


SQUATTER = ScriptedEvent("squatter", "Host's own meeting", utc(13, 9), utc(13, 10))


class _Knobs(Protocol):
    """The knobs the Google and Exchange fakes share (operations named by a string)."""

    def fail_next(
        self, status: int, *, operation: str, times: int | None, retry_after: float | None
    ) -> None: ...

    def hang(self, *, operation: str, times: int | None, seconds: float) -> None: ...

    def clear_faults(self) -> None: ...

    def move_event(self, event_id: str, start: dt.datetime, end: dt.datetime) -> None: ...

    def remove_event(self, event_id: str) -> None: ...


class _NamedOperations:
    """A harness whose fake names each operation by one string (`OPERATIONS`)."""

    OPERATIONS: ClassVar[dict[Operation, str]]

    @property
    def knobs(self) -> _Knobs:
        raise NotImplementedError

    def fail_next(
        self,
        status: int,
        *,
        operation: Operation,
        times: int | None = 1,
        retry_after: float | None = None,
    ) -> None:
        self.knobs.fail_next(
            status, operation=self.OPERATIONS[operation], times=times, retry_after=retry_after
        )

    def hang(self, *, operation: Operation, times: int | None = None, seconds: float) -> None:
        self.knobs.hang(operation=self.OPERATIONS[operation], times=times, seconds=seconds)

    def reset(self) -> None:
        self.knobs.clear_faults()

    def move_event(self, event_id: str, start: dt.datetime, end: dt.datetime) -> None:
        self.knobs.move_event(event_id, start, end)

    def remove_event(self, event_id: str) -> None:
        self.knobs.remove_event(event_id)


@dataclass
class GoogleHarness(_NamedOperations):
    """Google Calendar API v3 (tests.fakes.google): one operation a request."""

    fake: FakeGoogle
    http: httpx.AsyncClient
    name: ClassVar[str] = "google"
    OPERATIONS: ClassVar[dict[Operation, str]] = {
        "list_calendars": "calendarList.list",
        "free_busy": "freeBusy.query",
        "create_event": "events.insert",
        "create_calendar": "calendars.insert",
        "list_changes": "events.list",
    }

    @property
    def knobs(self) -> _Knobs:
        return self.fake

    @property
    def calendar_id(self) -> str:
        return self.fake.email

    def client(self, *, timeout: float) -> CalendarClient:
        return google_client(self.fake, self.http, timeout=timeout)

    def calls(self, operation: Operation) -> int:
        return len(self.fake.calls(self.OPERATIONS[operation]))

    def seed(self, event: ScriptedEvent) -> str:
        return self.fake.add_event(event)

    def event_id(self, scenario_id: str) -> str:
        return self.fake.event_id(scenario_id)

    def expire_cursors(self) -> None:
        self.fake.expire_sync_tokens()

    def squat(self, key: str) -> str:
        self.fake.loose_lookups = True
        return self.fake.add_event(SQUATTER, event_id=event_id_for(key))

    def seed_unreadable(self, event: ScriptedEvent) -> str:
        event_id = self.fake.add_event(event)
        self.fake.unreadable.add(event_id)
        return event_id


class _StoredEvent(Protocol):
    id: str


class _LooseFake(Protocol):
    """A fake whose `add_event` answers the stored event and whose key look-ups can be
    loosened (Microsoft, Exchange)."""

    loose_lookups: bool
    unreadable: set[str]

    def add_event(self, event: ScriptedEvent) -> _StoredEvent: ...


class _LooseLookups:
    """`squat` and `seed_unreadable` for a `_LooseFake`."""

    @property
    def loose(self) -> _LooseFake:
        raise NotImplementedError

    def squat(self, key: str) -> str:
        self.loose.loose_lookups = True
        return self.loose.add_event(SQUATTER).id

    def seed_unreadable(self, event: ScriptedEvent) -> str:
        event_id = self.loose.add_event(event).id
        self.loose.unreadable.add(event_id)
        return event_id


@dataclass
class MicrosoftHarness(_LooseLookups):
    """Graph (tests.fakes.microsoft), signed in through msal's real flow; operations are
    told apart by path and method."""

    fake: FakeMicrosoft
    http: httpx.AsyncClient
    ca_file: Path
    box: SecretBox
    name: ClassVar[str] = "microsoft"
    # (a fragment of the Graph path, the method)
    OPERATIONS: ClassVar[dict[Operation, tuple[str, str]]] = {
        "list_calendars": ("/me/calendars", "GET"),
        "free_busy": ("getSchedule", "POST"),
        "create_event": ("/events", "POST"),
        "create_calendar": ("/me/calendars", "POST"),
        "list_changes": ("calendarView/delta", "GET"),
    }

    @classmethod
    async def signed_in(
        cls, fake: FakeMicrosoft, http: httpx.AsyncClient, ca_file: Path
    ) -> MicrosoftHarness:
        """Sign in through the fake's consent screen, as a user connecting does."""
        oauth = oauth_for(fake, http, ca_file)
        grant = await connect(oauth, http)
        return cls(fake, http, ca_file, SecretBox(oauth, grant.secret))

    @property
    def calendar_id(self) -> str:
        return EMAIL

    def client(self, *, timeout: float) -> CalendarClient:
        return oauth_for(self.fake, self.http, self.ca_file, timeout=timeout).client(
            self.box, EMAIL
        )

    def fail_next(
        self,
        status: int,
        *,
        operation: Operation,
        times: int | None = 1,
        retry_after: float | None = None,
    ) -> None:
        path, method = self.OPERATIONS[operation]
        self.fake.fail_next(
            status, operation=path, method=method, times=times, retry_after=retry_after
        )

    def hang(self, *, operation: Operation, times: int | None = None, seconds: float) -> None:
        path, method = self.OPERATIONS[operation]
        self.fake.hang(operation=path, method=method, times=times, seconds=seconds)

    def reset(self) -> None:
        self.fake.clear_faults()

    def calls(self, operation: Operation) -> int:
        # Counted as they arrive: a late answer is logged in `requests` only once sent.
        path, method = self.OPERATIONS[operation]
        return sum(
            1 for arrival in self.fake.arrivals if arrival[0] == method and path in arrival[1]
        )

    def seed(self, event: ScriptedEvent) -> str:
        return self.fake.add_event(event).id

    def event_id(self, scenario_id: str) -> str:
        return self.fake.event_id(scenario_id)

    def move_event(self, event_id: str, start: dt.datetime, end: dt.datetime) -> None:
        self.fake.move_event(event_id, start, end)

    def remove_event(self, event_id: str) -> None:
        self.fake.remove_event(event_id)

    def expire_cursors(self) -> None:
        self.fake.expire_delta_tokens()

    @property
    def loose(self) -> _LooseFake:
        return self.fake


@dataclass
class ExchangeHarness(_LooseLookups, _NamedOperations):
    """EWS through exchangelib (tests.fakes.exchange); throttling is ErrorServerBusy with a
    back-off, not HTTP 429."""

    fake: FakeExchange
    limiter: anyio.CapacityLimiter
    name: ClassVar[str] = "exchange"
    OPERATIONS: ClassVar[dict[Operation, str]] = {
        "list_calendars": "GetFolder",
        "free_busy": "GetUserAvailability",
        "create_event": "CreateItem",
        "create_calendar": "CreateFolder",
        "list_changes": "SyncFolderItems",
    }

    @property
    def knobs(self) -> _Knobs:
        return self.fake

    @property
    def calendar_id(self) -> str:
        return self.fake.email

    def client(self, *, timeout: float) -> CalendarClient:
        return client_for(self.fake, self.limiter, timeout=timeout)

    def calls(self, operation: Operation) -> int:
        return len(self.fake.operations(self.OPERATIONS[operation], status=None))

    def seed(self, event: ScriptedEvent) -> str:
        return self.fake.add_event(event).id

    def event_id(self, scenario_id: str) -> str:
        return self.fake.item_id(scenario_id)

    def expire_cursors(self) -> None:
        self.fake.expire_sync_states()

    @property
    def loose(self) -> _LooseFake:
        return self.fake
