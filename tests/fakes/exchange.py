"""A protocol-level fake of Exchange Web Services (EWS) for one mailbox, served on loopback.

The Exchange adapter is tested through exchangelib's real client code: exchangelib builds the
SOAP requests and parses the answers, so this fake speaks the wire format an Exchange server
speaks, not a Python API. It serves the shared scripted calendar (`tests.fakes.scenario`) in
EWS terms: timed and all-day `CalendarItem`s with `LegacyFreeBusyStatus`, `MyResponseType`,
`IsCancelled` and `Sensitivity`, and the weekly 1:1 as a recurring master whose cancelled
occurrence is a deleted occurrence (what Exchange does when an organizer cancels one instance).

What it answers (SOAP 1.1 over plain HTTP: exchangelib accepts an `http://` service endpoint;
or over HTTPS with a certificate from a `trustme` CA, `tls=`, as behind an internal CA):

- `ConvertId`, the request exchangelib uses to guess the server version: requests that ask for an
  API version newer than the scripted server get the `ErrorInvalidServerVersion` SOAP fault, so
  version guessing walks down to the server's version (2010 SP2 is detected, 2007 refused).
  Every answer carries a `ServerVersionInfo` header with the scripted build.
- `GetFolder` / `FindFolder` / `CreateFolder` for the calendar folder and its sub-calendars.
- `GetUserAvailability` (Detailed view): busy time computed from the calendar the way Exchange
  does (cancelled and declined items left out; `BusyType` from each item's free/busy status;
  recurring masters expanded; all-day items as the mailbox zone's midnights), in the time zone the
  request names. It enforces Exchange's limits: at most 100 mailboxes and 42 days per request.
- `FindItem` (calendar view with recurrences expanded, paged item view, `IsEqualTo` restrictions
  on extended properties, ignored with `loose_lookups`), `GetItem`, `CreateItem`,
  `UpdateItem`, `DeleteItem`.
- `SyncFolderItems` with an opaque sync state; a state it did not issue answers
  `ErrorInvalidSyncStateData`.
- `GetUserConfiguration` for the mailbox time zone (`OWA.UserOptions` on the root folder, or the
  `WorkHours` configuration of the calendar folder), and autodiscover's `GetUserSettings`.
- Basic authentication: no `Authorization` header or a wrong password answers 401.
- Scriptable failures (`fail`): `ErrorServerBusy` with `BackOffMilliseconds`, HTTP 503, a
  SOAP fault with any EWS error code, or a reply slower than the client's timeout.

Autodiscover: exchangelib 5.6 only runs autodiscover against `https://<domain>/...` on port 443
after resolving names with dnspython, which a loopback test cannot serve. Tests therefore seed
exchangelib's autodiscover cache (domain -> this fake's `autodiscover_url`, see
`seed_autodiscover_cache` in the tests); exchangelib then sends a real `GetUserSettings` SOAP
request here and reads the EWS URL from the answer, exactly as it does after a cache hit in
production.

Every request is logged in `requests` (operation, HTTP status, mailbox count and time window for
free/busy, items or changes answered by FindItem and SyncFolderItems) so tests can assert how
the adapter split its calls and how much it transferred.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import ssl
import threading
import time
import xml.etree.ElementTree as ET  # building answers only; requests are parsed with defusedxml
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Literal
from typing import cast
from zoneinfo import ZoneInfo

import trustme
from defusedxml.ElementTree import fromstring as parse_xml

from tests.fakes.scenario import EVENTS
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import ScriptedEvent

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TNS = "http://schemas.microsoft.com/exchange/services/2006/types"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"
ANS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
for _prefix, _uri in (("s", SOAP), ("m", MNS), ("t", TNS), ("e", ENS), ("a", ANS), ("i", XSI)):
    ET.register_namespace(_prefix, _uri)

EWS_PATH = "/EWS/Exchange.asmx"
AUTODISCOVER_PATH = "/autodiscover/autodiscover.svc"

# EWS API versions, oldest first: a request naming a later one than the server's is refused.
API_VERSIONS = (
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2016",
)

# Windows time zone ids, as Exchange names zones, for the zones the tests use.
WINDOWS_ZONES = {
    "America/New_York": "Eastern Standard Time",
    "Europe/Paris": "Romance Standard Time",
    "Europe/London": "GMT Standard Time",
    "UTC": "UTC",
}

PASSWORD = "correct horse battery staple"

ALL_DAY_PROPERTY_ID = 0x8215  # PidLidAppointmentSubType, what IsAllDayEvent maps to

MAX_AVAILABILITY_MAILBOXES = 100
MAX_AVAILABILITY_SPAN = dt.timedelta(days=42)

SHOW_AS_TO_FREE_BUSY = {
    "BUSY": "Busy",
    "TENTATIVE": "Tentative",
    "OUT_OF_OFFICE": "OOF",
    "WORKING_ELSEWHERE": "WorkingElsewhere",
    "FREE": "Free",
}
RESPONSE_TO_EWS = {
    "ORGANIZER": "Organizer",
    "ACCEPTED": "Accept",
    "TENTATIVE": "Tentative",
    "DECLINED": "Decline",
    "NEEDS_ACTION": "NoResponseReceived",
}


@dataclass(frozen=True, slots=True)
class ServerBuild:
    """What the fake reports in `ServerVersionInfo`."""

    major: int
    minor: int
    major_build: int
    minor_build: int
    api_version: str


EXCHANGE_2007_SP3 = ServerBuild(8, 3, 83, 6, "Exchange2007_SP1")
EXCHANGE_2010_SP1 = ServerBuild(14, 1, 218, 15, "Exchange2010_SP1")
EXCHANGE_2010_SP2 = ServerBuild(14, 2, 247, 5, "Exchange2010_SP2")
EXCHANGE_2016 = ServerBuild(15, 1, 2507, 6, "Exchange2016")


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the fake saw it."""

    operation: str
    status: int
    mailboxes: int | None = None
    window: tuple[dt.datetime, dt.datetime] | None = None
    requested_version: str | None = None
    items: int | None = None  # items or changes answered (SyncFolderItems, FindItem)


@dataclass(slots=True)
class Occurrence:
    id: str
    start: dt.datetime
    end: dt.datetime


@dataclass(slots=True)
class FakeItem:
    """A calendar item as the mailbox stores it (UTC instants; all-day items as the zone's
    midnights, as Exchange stores them)."""

    id: str
    folder_id: str
    subject: str
    start: dt.datetime
    end: dt.datetime
    all_day: bool = False
    free_busy: str = "Busy"
    cancelled: bool = False
    my_response: str = "Organizer"
    sensitivity: str = "Normal"
    location: str | None = None
    body: str = ""
    attendees: list[str] = field(default_factory=list)
    extended: dict[tuple[str, str], str] = field(default_factory=dict)
    start_zone: str = "UTC"
    occurrences: list[Occurrence] | None = None  # set on recurring masters
    changekey: int = 1
    created_seq: int = 0
    changed_seq: int = 0

    @property
    def item_type(self) -> str:
        return "RecurringMaster" if self.occurrences is not None else "Single"

    def instances(self) -> Iterator[tuple[str, dt.datetime, dt.datetime, str]]:
        """(id, start, end, CalendarItemType) of what a calendar view shows for this item."""
        if self.occurrences is None:
            yield self.id, self.start, self.end, "Single"
            return
        for occurrence in self.occurrences:
            yield occurrence.id, occurrence.start, occurrence.end, "Occurrence"


@dataclass(slots=True)
class FakeFolder:
    id: str
    name: str
    folder_class: str | None
    parent_id: str | None
    distinguished: str | None = None


@dataclass(slots=True)
class Failure:
    operation: str | None
    kind: Literal["busy", "http503", "slow", "refuse"]
    remaining: int | None
    back_off_ms: int | None
    delay: float
    after: int = 0  # matching requests still let through before failing
    code: str = "ErrorInternalServerError"  # the SOAP fault of `refuse`


@dataclass(frozen=True, slots=True)
class Shape:
    """The properties an ItemShape asks for."""

    all_properties: bool
    fields: frozenset[str]
    extended: tuple[dict[str, str], ...]

    @classmethod
    def of(cls, element: ET.Element | None) -> Shape | None:
        """None for an IdOnly shape without additional properties."""
        if element is None:
            return None
        base = _text(element, "BaseShape") or "IdOnly"
        extra = _find(element, "AdditionalProperties")
        fields = frozenset(
            child.get("FieldURI") or ""
            for child in (extra if extra is not None else [])
            if _local(child.tag) == "FieldURI"
        )
        extended = tuple(
            dict(child.attrib)
            for child in (extra if extra is not None else [])
            if _local(child.tag) == "ExtendedFieldURI"
        )
        if base == "IdOnly" and not fields and not extended:
            return None
        return cls(base != "IdOnly", fields, extended)

    def wants(self, uri: str) -> bool:
        return self.all_properties or uri in self.fields


class SoapFault(Exception):
    """Answered as a SOAP fault with HTTP 500, as Exchange does for request-level errors."""

    def __init__(
        self,
        code: str,
        message: str,
        back_off_ms: int | None = None,
        log: LoggedRequest | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.back_off_ms = back_off_ms
        self.log = log


class ResponseError(Exception):
    """Answered as a response message with ResponseClass="Error" (item-level errors)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _sub(parent: ET.Element, namespace: str, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, _q(namespace, name))
    if text is not None:
        element.text = text
    return element


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element, *path: str) -> ET.Element | None:
    """Descend by local names (namespaces vary between m: and t: in EWS requests)."""
    current: ET.Element | None = element
    for name in path:
        if current is None:
            return None
        current = next((child for child in current if _local(child.tag) == name), None)
    return current


def _text(element: ET.Element, *path: str) -> str | None:
    found = _find(element, *path)
    return None if found is None else (found.text or "")


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_datetime(value: str, naive_zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed.astimezone(dt.UTC)


def _serialize(envelope: ET.Element) -> bytes:
    return bytes(ET.tostring(envelope, encoding="utf-8", xml_declaration=True))


def _bool(value: bool) -> str:
    return "true" if value else "false"


class FakeExchange:
    """One mailbox on one scripted Exchange server. Use as a context manager (or `start`/`stop`)."""

    def __init__(
        self,
        *,
        email: str = "alice@example.test",
        username: str | None = None,
        password: str = PASSWORD,
        build: ServerBuild = EXCHANGE_2016,
        time_zone: str = TIME_ZONE,
        zone_source: Literal["owa", "workhours", "none"] = "owa",
        events: Sequence[ScriptedEvent] = EVENTS,
        tls: trustme.CA | None = None,
    ) -> None:
        self.tls = tls
        self.email = email
        self.username = username or email
        self.password = password
        self.build = build
        self.time_zone = time_zone
        self.zone_source = zone_source
        self.requests: list[LoggedRequest] = []
        # Invitations and cancellations the server would have sent: (operation, item id, mode).
        self.notifications: list[tuple[str, str, str]] = []
        # Other mailboxes free/busy may be asked about: known ones answer with an empty
        # calendar, `no_data` ones with a NoData span, any other address is not found.
        self.other_mailboxes: set[str] = set()
        self.no_data_mailboxes: set[str] = set()
        # FindItem ignores its restriction (a server that loosens what it cannot index).
        self.loose_lookups = False
        # All-day items say IsAllDayEvent even when the shape did not ask for it (servers do
        # add properties): exchangelib then hands their start and end over as dates.
        self.announce_all_day = False
        # Item ids whose answer is broken (no End): an item the adapter cannot read.
        self.unreadable: set[str] = set()
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._failures: list[Failure] = []
        self._deleted: list[tuple[int, str, str]] = []  # (seq, item id, folder id)
        self._sync_epoch = 1
        self._items_answered: int | None = None  # set by item-listing handlers, under _lock
        self.root = FakeFolder("AAMkFolder-root", "Top of Information Store", None, None, "root")
        self.calendar = FakeFolder(
            "AAMkFolder-calendar", "Calendar", "IPF.Appointment", self.root.id, "calendar"
        )
        self.folders: dict[str, FakeFolder] = {f.id: f for f in (self.root, self.calendar)}
        offsite = FakeFolder("AAMkFolder-team-offsite", "Team offsite", "IPF.Appointment", None)
        offsite.parent_id = self.calendar.id
        self.folders[offsite.id] = offsite
        self.items: dict[str, FakeItem] = {}
        self._load(events)
        self._server: ThreadingHTTPServer | None = None
        self._address: str | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeExchange:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        scheme = "http"
        if self.tls is not None:  # an on-premises server behind an internal CA
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        self._server = server
        host, port = server.server_address[:2]
        self._address = f"{scheme}://{host!s}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeExchange:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._address is not None, "start() the fake first"
        return self._address

    @property
    def url(self) -> str:
        """The EWS service endpoint."""
        return self.base_url + EWS_PATH

    @property
    def autodiscover_url(self) -> str:
        return self.base_url + AUTODISCOVER_PATH

    # -- scripting -----------------------------------------------------------------------

    def fail(
        self,
        kind: Literal["busy", "http503", "slow", "refuse"] = "busy",
        *,
        operation: str | None = None,
        times: int | None = 1,
        back_off_ms: int | None = None,
        delay: float = 5.0,
        after: int = 0,
        code: str = "ErrorInternalServerError",
    ) -> None:
        """The next `times` requests (every request when None) for `operation` (any when None)
        fail, once `after` of them went through: `busy` answers ErrorServerBusy (with
        BackOffMilliseconds when given), `http503` a bare 503, `slow` answers only after
        `delay` seconds, `refuse` the SOAP fault `code` (any EWS error code)."""
        with self._lock:
            self._failures.append(Failure(operation, kind, times, back_off_ms, delay, after, code))

    def fail_next(
        self,
        status: int,
        *,
        operation: str | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
    ) -> None:
        """The knob every provider fake shares (tests/helpers/harnesses.py) in EWS terms:
        429 is Exchange's throttling, `ErrorServerBusy` with `retry_after` as its
        BackOffMilliseconds; 503 a bare HTTP 503 (EWS sends no Retry-After)."""
        if status == 429:
            back_off = None if retry_after is None else round(retry_after * 1000)
            self.fail("busy", operation=operation, times=times, back_off_ms=back_off)
        else:
            assert status == 503, f"EWS has no scripted answer {status}"
            self.fail("http503", operation=operation, times=times)

    def hang(
        self, *, operation: str | None = None, times: int | None = None, seconds: float = 5.0
    ) -> None:
        """The next `times` requests (all when None) are carried out but answered only after
        `seconds`: a lost answer for a client whose timeout is shorter."""
        self.fail("slow", operation=operation, times=times, delay=seconds)

    def clear_faults(self) -> None:
        with self._lock:
            self._failures.clear()

    def operations(
        self, name: str | None = None, *, status: int | None = 200
    ) -> list[LoggedRequest]:
        """Logged requests, optionally only one operation and one HTTP status."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (name is None or r.operation == name) and (status is None or r.status == status)
            ]

    def add_event(self, event: ScriptedEvent, *, folder_id: str | None = None) -> FakeItem:
        """Add an event as if created in Outlook (a change the next sync must report)."""
        with self._lock:
            item = self._item_from_event(event, folder_id or self.calendar.id)
            self.items[item.id] = item
            return item

    def move_event(self, item_id: str, start: dt.datetime, end: dt.datetime) -> None:
        with self._lock:
            item = self.items[item_id]
            item.start, item.end = start, end
            self._touch(item)

    def touch(self, item_id: str) -> None:
        """Change an item without moving it (e.g. an occurrence of a series edited in Outlook:
        Exchange reports the series master as updated)."""
        with self._lock:
            self._touch(self.items[item_id])

    def expire_sync_states(self) -> None:
        """Make every sync state issued so far invalid, as Exchange does after a mailbox move."""
        with self._lock:
            self._sync_epoch += 1

    def remove_event(self, item_id: str) -> None:
        with self._lock:
            item = self.items.pop(item_id)
            self._deleted.append((next(self._seq), item.id, item.folder_id))

    def remove_calendar(self, folder_id: str) -> None:
        """Delete a sub-calendar (or unshare it): requests naming it answer
        ErrorFolderNotFound from now on."""
        with self._lock:
            del self.folders[folder_id]

    def item_id(self, scenario_id: str) -> str:
        """The EWS item id the fake gave a scenario event."""
        return f"AAMkItem-{scenario_id}"

    def items_with_key(self, key: str) -> list[FakeItem]:
        with self._lock:
            return [i for i in self.items.values() if key in i.extended.values()]

    # -- scenario ------------------------------------------------------------------------

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def _load(self, events: Sequence[ScriptedEvent]) -> None:
        series: dict[str, list[ScriptedEvent]] = {}
        for event in events:
            if event.series_id is not None:
                series.setdefault(event.series_id, []).append(event)
            else:
                item = self._item_from_event(event, self.calendar.id)
                self.items[item.id] = item
        for series_id, instances in series.items():
            first = instances[0]
            master = self._item_from_event(first, self.calendar.id, item_id=series_id)
            # An organizer's cancelled instance is a deleted occurrence of the series.
            master.occurrences = [
                Occurrence(self.item_id(i.id), self._instant(i.start), self._instant(i.end))
                for i in instances
                if not i.cancelled
            ]
            self.items[master.id] = master

    def _instant(self, value: dt.datetime | dt.date) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC)
        return dt.datetime.combine(value, dt.time(), self._zone()).astimezone(dt.UTC)

    def _item_from_event(
        self, event: ScriptedEvent, folder_id: str, *, item_id: str | None = None
    ) -> FakeItem:
        seq = next(self._seq)
        return FakeItem(
            id=self.item_id(item_id or event.id),
            folder_id=folder_id,
            subject=event.title,
            start=self._instant(event.start),
            end=self._instant(event.end),
            all_day=event.all_day,
            # Exchange marks cancelled meetings free on the attendee's calendar.
            free_busy="Free" if event.cancelled else SHOW_AS_TO_FREE_BUSY[event.show_as],
            cancelled=event.cancelled,
            my_response=RESPONSE_TO_EWS[event.response],
            sensitivity="Private" if event.private else "Normal",
            start_zone=WINDOWS_ZONES[self.time_zone],
            created_seq=seq,
            changed_seq=seq,
        )

    def _touch(self, item: FakeItem) -> None:
        item.changekey += 1
        item.changed_seq = next(self._seq)

    # -- dispatch ------------------------------------------------------------------------

    def _take_failure(self, operation: str) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.operation not in (None, operation):
                    continue
                if failure.after > 0:
                    failure.after -= 1
                    return None
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                return failure
        return None

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, _, password = decoded.partition(":")
        return username.lower() == self.username.lower() and password == self.password

    def handle(self, path: str, authorization: str | None, body: bytes) -> tuple[int, bytes, float]:
        """(status, payload, seconds to wait before answering) for one POST."""
        try:
            envelope = cast(ET.Element, parse_xml(body))
        except Exception:  # any unparsable body is a client error here
            return 400, b"", 0.0
        soap_body = _find(envelope, "Body")
        if soap_body is None or not len(soap_body):
            return 400, b"", 0.0
        request = soap_body[0]
        operation = _local(request.tag).removesuffix("Request").removesuffix("RequestMessage")
        requested = self._requested_version(envelope, path)
        if not self._authorized(authorization):
            self._log(LoggedRequest(operation, 401, requested_version=requested))
            return 401, b"", 0.0
        failure = self._take_failure(operation)
        if failure is not None and failure.kind == "http503":
            self._log(LoggedRequest(operation, 503, requested_version=requested))
            return 503, b"Service Unavailable", 0.0
        delay = failure.delay if failure is not None and failure.kind == "slow" else 0.0
        log = LoggedRequest(operation, 200, requested_version=requested)
        try:
            if failure is not None and failure.kind == "busy":
                raise SoapFault(
                    "ErrorServerBusy",
                    "The server cannot service this request right now. Try again later.",
                    back_off_ms=failure.back_off_ms,
                )
            if failure is not None and failure.kind == "refuse":
                raise SoapFault(failure.code, "Scripted refusal.")
            if path == AUTODISCOVER_PATH:
                if operation != "GetUserSettings":
                    raise SoapFault("ErrorInvalidRequest", "Unsupported autodiscover request.")
                payload = self._autodiscover(request)
            else:
                self._check_version(requested)
                with self._lock:
                    answer, log = self._dispatch(operation, request, log)
                payload = self._envelope(answer)
        except SoapFault as fault:
            seen = fault.log or log
            self._log(LoggedRequest(operation, 500, seen.mailboxes, seen.window, requested))
            return 500, self._fault(fault), delay
        self._log(log)
        return 200, payload, delay

    def _log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(entry)

    def _requested_version(self, envelope: ET.Element, path: str) -> str | None:
        header = _find(envelope, "Header")
        if header is None:
            return None
        if path == AUTODISCOVER_PATH:
            return _text(header, "RequestedServerVersion")
        element = _find(header, "RequestServerVersion")
        return None if element is None else element.get("Version")

    def _check_version(self, requested: str | None) -> None:
        """Refuse API versions newer than the server's, as Exchange does."""
        requested = requested or "Exchange2007"  # what EWS assumes without the header
        if requested not in API_VERSIONS or API_VERSIONS.index(requested) > API_VERSIONS.index(
            self.build.api_version
        ):
            raise SoapFault("ErrorInvalidServerVersion", "The specified server version is invalid.")

    def _dispatch(
        self, operation: str, request: ET.Element, log: LoggedRequest
    ) -> tuple[ET.Element, LoggedRequest]:
        handlers = {
            "ConvertId": self._convert_id,
            "GetFolder": self._get_folder,
            "FindFolder": self._find_folder,
            "CreateFolder": self._create_folder,
            "FindItem": self._find_item,
            "GetItem": self._get_item,
            "CreateItem": self._create_item,
            "UpdateItem": self._update_item,
            "DeleteItem": self._delete_item,
            "SyncFolderItems": self._sync_folder_items,
            "GetUserConfiguration": self._get_user_configuration,
        }
        if operation == "GetUserAvailability":
            return self._get_user_availability(request, log)
        handler = handlers.get(operation)
        if handler is None:
            raise SoapFault("ErrorInvalidRequest", f"The fake does not implement {operation}.")
        self._items_answered = None
        answer = handler(request)
        return answer, replace(log, items=self._items_answered)

    # -- envelopes -----------------------------------------------------------------------

    def _envelope(self, body_content: ET.Element) -> bytes:
        envelope = ET.Element(_q(SOAP, "Envelope"))
        header = _sub(envelope, SOAP, "Header")
        info = _sub(header, TNS, "ServerVersionInfo")
        info.set("MajorVersion", str(self.build.major))
        info.set("MinorVersion", str(self.build.minor))
        info.set("MajorBuildNumber", str(self.build.major_build))
        info.set("MinorBuildNumber", str(self.build.minor_build))
        info.set("Version", self.build.api_version)
        _sub(envelope, SOAP, "Body").append(body_content)
        return _serialize(envelope)

    def _fault(self, fault: SoapFault) -> bytes:
        envelope = ET.Element(_q(SOAP, "Envelope"))
        body = _sub(envelope, SOAP, "Body")
        element = _sub(body, SOAP, "Fault")
        ET.SubElement(element, "faultcode").text = f"a:{fault.code}"
        ET.SubElement(element, "faultstring").text = fault.message
        detail = ET.SubElement(element, "detail")
        _sub(detail, ENS, "ResponseCode", fault.code)
        _sub(detail, ENS, "Message", fault.message)
        if fault.back_off_ms is not None:
            message_xml = _sub(detail, TNS, "MessageXml")
            value = _sub(message_xml, TNS, "Value", str(fault.back_off_ms))
            value.set("Name", "BackOffMilliseconds")
        return _serialize(envelope)

    @staticmethod
    def _response(operation: str) -> tuple[ET.Element, ET.Element]:
        response = ET.Element(_q(MNS, f"{operation}Response"))
        return response, _sub(response, MNS, "ResponseMessages")

    @staticmethod
    def _message(
        messages: ET.Element, operation: str, error: ResponseError | None = None
    ) -> ET.Element:
        message = _sub(messages, MNS, f"{operation}ResponseMessage")
        if error is None:
            message.set("ResponseClass", "Success")
            _sub(message, MNS, "ResponseCode", "NoError")
        else:
            message.set("ResponseClass", "Error")
            _sub(message, MNS, "MessageText", error.message)
            _sub(message, MNS, "ResponseCode", error.code)
            _sub(message, MNS, "DescriptiveLinkKey", "0")
        return message

    # -- folders -------------------------------------------------------------------------

    def _resolve_folder(self, element: ET.Element) -> FakeFolder:
        """A FolderId or DistinguishedFolderId element (with its optional mailbox)."""
        kind = _local(element.tag)
        folder_id = element.get("Id") or ""
        if kind == "DistinguishedFolderId":
            mailbox = _text(element, "Mailbox", "EmailAddress")
            if mailbox is not None and mailbox.lower() != self.email.lower():
                raise ResponseError("ErrorNonExistentMailbox", "The mailbox does not exist.")
            for folder in self.folders.values():
                if folder.distinguished == folder_id:
                    return folder
            raise ResponseError("ErrorFolderNotFound", "The specified folder could not be found.")
        found = self.folders.get(folder_id)
        if found is None:
            raise ResponseError("ErrorFolderNotFound", "The specified folder could not be found.")
        return found

    def _folder_element(self, parent: ET.Element, folder: FakeFolder) -> None:
        kind = "CalendarFolder" if folder.folder_class == "IPF.Appointment" else "Folder"
        element = _sub(parent, TNS, kind)
        folder_id = _sub(element, TNS, "FolderId")
        folder_id.set("Id", folder.id)
        folder_id.set("ChangeKey", "AQAAAA==")
        if folder.parent_id is not None:
            parent_id = _sub(element, TNS, "ParentFolderId")
            parent_id.set("Id", folder.parent_id)
            parent_id.set("ChangeKey", "AQAAAA==")
        if folder.folder_class is not None:
            _sub(element, TNS, "FolderClass", folder.folder_class)
        _sub(element, TNS, "DisplayName", folder.name)
        count = sum(1 for i in self.items.values() if i.folder_id == folder.id)
        _sub(element, TNS, "TotalCount", str(count))
        children = sum(1 for f in self.folders.values() if f.parent_id == folder.id)
        _sub(element, TNS, "ChildFolderCount", str(children))
        rights = _sub(element, TNS, "EffectiveRights")
        for name in ("CreateAssociated", "CreateContents", "CreateHierarchy", "Delete"):
            _sub(rights, TNS, name, "true")
        _sub(rights, TNS, "Modify", "true")
        _sub(rights, TNS, "Read", "true")

    def _get_folder(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("GetFolder")
        for element in _find(request, "FolderIds") or []:
            try:
                folder = self._resolve_folder(element)
            except ResponseError as error:
                self._message(messages, "GetFolder", error)
                continue
            message = self._message(messages, "GetFolder")
            self._folder_element(_sub(message, MNS, "Folders"), folder)
        return response

    def _descendants(self, folder: FakeFolder, deep: bool) -> Iterator[FakeFolder]:
        for child in self.folders.values():
            if child.parent_id == folder.id:
                yield child
                if deep:
                    yield from self._descendants(child, deep)

    def _find_folder(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("FindFolder")
        deep = request.get("Traversal") == "Deep"
        for element in _find(request, "ParentFolderIds") or []:
            try:
                folder = self._resolve_folder(element)
            except ResponseError as error:
                self._message(messages, "FindFolder", error)
                continue
            found = list(self._descendants(folder, deep))
            message = self._message(messages, "FindFolder")
            root = _sub(message, MNS, "RootFolder")
            root.set("TotalItemsInView", str(len(found)))
            root.set("IncludesLastItemInRange", "true")
            container = _sub(root, TNS, "Folders")
            for child in found:
                self._folder_element(container, child)
        return response

    def _create_folder(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("CreateFolder")
        parent_element = _find(request, "ParentFolderId")
        assert parent_element is not None
        assert len(parent_element)
        try:
            parent = self._resolve_folder(parent_element[0])
        except ResponseError as error:
            self._message(messages, "CreateFolder", error)
            return response
        for element in _find(request, "Folders") or []:
            name = _text(element, "DisplayName") or ""
            if any(f.parent_id == parent.id and f.name == name for f in self.folders.values()):
                refusal = ResponseError(
                    "ErrorFolderExists", "A folder with that name already exists."
                )
                self._message(messages, "CreateFolder", refusal)
                continue
            folder = FakeFolder(
                f"AAMkFolder-{next(self._ids)}",
                name,
                _text(element, "FolderClass") or "IPF.Note",
                parent.id,
            )
            self.folders[folder.id] = folder
            message = self._message(messages, "CreateFolder")
            self._folder_element(_sub(message, MNS, "Folders"), folder)
        return response

    # -- items ---------------------------------------------------------------------------

    def _item_element(
        self,
        parent: ET.Element,
        item: FakeItem,
        *,
        instance: tuple[str, dt.datetime, dt.datetime, str] | None = None,
        shape: Shape | None = None,
    ) -> None:
        """A CalendarItem with the properties the request's shape asked for (only the ItemId
        without one), as Exchange answers: exchangelib reads whatever is present."""
        item_id, start, end, item_type = instance or (
            item.id,
            item.start,
            item.end,
            item.item_type,
        )
        element = _sub(parent, TNS, "CalendarItem")
        id_element = _sub(element, TNS, "ItemId")
        id_element.set("Id", item_id)
        id_element.set("ChangeKey", f"CK{item.changekey}")
        if shape is None:
            return
        values: dict[str, str | None] = {
            "item:ParentFolderId": None,
            "item:ItemClass": "IPM.Appointment",
            "item:Subject": item.subject,
            "item:Sensitivity": item.sensitivity,
            "calendar:Start": _utc(start),
            "calendar:End": None if item.id in self.unreadable else _utc(end),
            "calendar:IsAllDayEvent": _bool(item.all_day),
            "calendar:LegacyFreeBusyStatus": self._busy_type(item),
            "calendar:Location": item.location,
            "calendar:IsMeeting": _bool(bool(item.attendees)),
            "calendar:IsCancelled": _bool(item.cancelled),
            "calendar:IsRecurring": _bool(item_type != "Single"),
            "calendar:CalendarItemType": item_type,
            "calendar:MyResponseType": item.my_response,
        }
        for uri, value in values.items():
            announced = uri == "calendar:IsAllDayEvent" and item.all_day and self.announce_all_day
            if not shape.wants(uri) and not announced:
                continue
            name = uri.split(":", 1)[1]
            if uri == "item:ParentFolderId":
                parent_id = _sub(element, TNS, name)
                parent_id.set("Id", item.folder_id)
                parent_id.set("ChangeKey", "AQAAAA==")
            elif value is not None:
                _sub(element, TNS, name, value)
        for name in ("StartTimeZone", "EndTimeZone"):
            if shape.wants(f"calendar:{name}"):
                _sub(element, TNS, name).set("Id", item.start_zone)
        for uri_attributes in shape.extended:
            value = self._extended_value(item, uri_attributes)
            if value is None:
                continue  # Exchange omits properties an item does not have
            extended = _sub(element, TNS, "ExtendedProperty")
            uri_element = _sub(extended, TNS, "ExtendedFieldURI")
            for key, attribute in uri_attributes.items():
                uri_element.set(key, attribute)
            _sub(extended, TNS, "Value", value)

    @staticmethod
    def _extended_value(item: FakeItem, uri: dict[str, str]) -> str | None:
        """PidLidAppointmentSubType (the all-day flag every appointment has) or a named
        property the item was created with."""
        if uri.get("DistinguishedPropertySetId") == "Appointment" and uri.get("PropertyId") in (
            str(ALL_DAY_PROPERTY_ID),
            hex(ALL_DAY_PROPERTY_ID),
        ):
            return _bool(item.all_day)
        key = (uri.get("PropertySetId", "").lower(), uri.get("PropertyName", ""))
        return item.extended.get(key)

    def _folder_items(self, folder: FakeFolder) -> list[FakeItem]:
        return [i for i in self.items.values() if i.folder_id == folder.id]

    def _matches(self, item: FakeItem, restriction: ET.Element | None) -> bool:
        """Only `IsEqualTo` on an extended property: what the adapter's idempotency lookup
        sends. Anything else is refused rather than silently ignored."""
        if restriction is None or self.loose_lookups:
            return True
        condition = restriction[0]
        uri = _find(condition, "ExtendedFieldURI")
        constant = _find(condition, "FieldURIOrConstant", "Constant")
        if _local(condition.tag) != "IsEqualTo" or uri is None or constant is None:
            raise SoapFault("ErrorUnsupportedQueryFilter", "The fake supports IsEqualTo only.")
        key = ((uri.get("PropertySetId") or "").lower(), uri.get("PropertyName") or "")
        return item.extended.get(key) == constant.get("Value")

    def _find_item(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("FindItem")
        shape = Shape.of(_find(request, "ItemShape"))
        view = _find(request, "CalendarView")
        paged = _find(request, "IndexedPageItemView")
        restriction = _find(request, "Restriction")
        for element in _find(request, "ParentFolderIds") or []:
            try:
                folder = self._resolve_folder(element)
            except ResponseError as error:
                self._message(messages, "FindItem", error)
                continue
            rows: list[tuple[FakeItem, tuple[str, dt.datetime, dt.datetime, str] | None]] = []
            if view is not None:
                start = _parse_datetime(view.get("StartDate") or "")
                end = _parse_datetime(view.get("EndDate") or "")
                for item in self._folder_items(folder):
                    rows.extend(
                        (item, instance)
                        for instance in item.instances()
                        if instance[1] < end and instance[2] > start
                    )
                rows.sort(key=lambda row: row[1][1] if row[1] else row[0].start)
                offset, total = 0, len(rows)
            else:
                matching = [i for i in self._folder_items(folder) if self._matches(i, restriction)]
                offset = int(paged.get("Offset") or 0) if paged is not None else 0
                size = int(paged.get("MaxEntriesReturned") or 1000) if paged is not None else 1000
                total = len(matching)
                rows = [(item, None) for item in matching[offset : offset + size]]
            message = self._message(messages, "FindItem")
            root = _sub(message, MNS, "RootFolder")
            last = offset + len(rows) >= total
            root.set("TotalItemsInView", str(total))
            root.set("IncludesLastItemInRange", _bool(last))
            if not last:
                root.set("IndexedPagingOffset", str(offset + len(rows)))
            container = _sub(root, TNS, "Items")
            self._items_answered = (self._items_answered or 0) + len(rows)
            for item, instance in rows:
                self._item_element(container, item, instance=instance, shape=shape)
        return response

    def _lookup(
        self, item_id: str
    ) -> tuple[FakeItem, tuple[str, dt.datetime, dt.datetime, str] | None]:
        item = self.items.get(item_id)
        if item is not None:
            return item, None
        for candidate in self.items.values():
            for instance in candidate.instances() if candidate.occurrences else ():
                if instance[0] == item_id:
                    return candidate, instance
        raise ResponseError("ErrorItemNotFound", "The specified object was not found in the store.")

    def _get_item(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("GetItem")
        for element in _find(request, "ItemIds") or []:
            try:
                item, instance = self._lookup(element.get("Id") or "")
            except ResponseError as error:
                self._message(messages, "GetItem", error)
                continue
            message = self._message(messages, "GetItem")
            shape = Shape.of(_find(request, "ItemShape"))
            self._item_element(_sub(message, MNS, "Items"), item, instance=instance, shape=shape)
        return response

    def _apply(self, item: FakeItem, source: ET.Element, only: str | None = None) -> None:
        """Copy the fields present in a CalendarItem element onto `item`."""
        for child in source:
            name = _local(child.tag)
            if only is not None and name != only:
                continue
            text = child.text or ""
            if name == "Subject":
                item.subject = text
            elif name == "Body":
                item.body = text
            elif name == "Start":
                item.start = _parse_datetime(text)
            elif name == "End":
                item.end = _parse_datetime(text)
            elif name == "IsAllDayEvent":
                item.all_day = text in ("true", "1")
            elif name == "LegacyFreeBusyStatus":
                item.free_busy = text
            elif name == "Sensitivity":
                item.sensitivity = text
            elif name == "Location":
                item.location = text
            elif name == "StartTimeZone":
                item.start_zone = child.get("Id") or item.start_zone
            elif name == "RequiredAttendees":
                item.attendees = [
                    _text(attendee, "Mailbox", "EmailAddress") or "" for attendee in child
                ]
            elif name == "ExtendedProperty":
                uri = _find(child, "ExtendedFieldURI")
                if uri is not None:
                    key = ((uri.get("PropertySetId") or "").lower(), uri.get("PropertyName") or "")
                    item.extended[key] = _text(child, "Value") or ""

    def _create_item(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("CreateItem")
        target = _find(request, "SavedItemFolderId")
        folder = self.calendar
        if target is not None and len(target):
            try:
                folder = self._resolve_folder(target[0])
            except ResponseError as error:
                self._message(messages, "CreateItem", error)
                return response
        invitations = request.get("SendMeetingInvitations") or "SendToNone"
        for element in _find(request, "Items") or []:
            seq = next(self._seq)
            item = FakeItem(
                id=f"AAMkItem-{next(self._ids):04d}",
                folder_id=folder.id,
                subject="",
                start=dt.datetime.min.replace(tzinfo=dt.UTC),
                end=dt.datetime.min.replace(tzinfo=dt.UTC),
                created_seq=seq,
                changed_seq=seq,
            )
            self._apply(item, element)
            self.items[item.id] = item
            if item.attendees:
                self.notifications.append(("CreateItem", item.id, invitations))
            message = self._message(messages, "CreateItem")
            self._item_element(_sub(message, MNS, "Items"), item)
        return response

    def _update_item(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("UpdateItem")
        mode = request.get("SendMeetingInvitationsOrCancellations") or "SendToNone"
        for change in _find(request, "ItemChanges") or []:
            id_element = _find(change, "ItemId")
            item = self.items.get(id_element.get("Id") or "") if id_element is not None else None
            if item is None:
                refusal = ResponseError("ErrorItemNotFound", "The specified object was not found.")
                self._message(messages, "UpdateItem", refusal)
                continue
            for update in _find(change, "Updates") or []:
                uri = _find(update, "FieldURI")
                field_name = (uri.get("FieldURI") or "") if uri is not None else ""
                local = field_name.split(":", 1)[-1]
                if _local(update.tag) == "DeleteItemField":
                    if local == "Location":
                        item.location = None
                    elif local == "RequiredAttendees":
                        item.attendees = []
                    elif local == "Body":
                        item.body = ""
                    continue
                source = _find(update, "CalendarItem")
                if source is not None:
                    self._apply(item, source, only=local)
            self._touch(item)
            if item.attendees:
                self.notifications.append(("UpdateItem", item.id, mode))
            message = self._message(messages, "UpdateItem")
            self._item_element(_sub(message, MNS, "Items"), item)
            conflicts = _sub(message, MNS, "ConflictResults")
            _sub(conflicts, TNS, "Count", "0")
        return response

    def _delete_item(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("DeleteItem")
        mode = request.get("SendMeetingCancellations") or "SendToNone"
        for element in _find(request, "ItemIds") or []:
            item = self.items.pop(element.get("Id") or "", None)
            if item is None:
                refusal = ResponseError("ErrorItemNotFound", "The specified object was not found.")
                self._message(messages, "DeleteItem", refusal)
                continue
            self._deleted.append((next(self._seq), item.id, item.folder_id))
            if item.attendees:
                self.notifications.append(("DeleteItem", item.id, mode))
            self._message(messages, "DeleteItem")
        return response

    # -- sync ----------------------------------------------------------------------------

    def _sync_state(self, folder: FakeFolder, seq: int) -> str:
        text = f"fake-sync/v1/{folder.id}/{self._sync_epoch}/{seq}"
        return base64.b64encode(text.encode()).decode()

    def _read_sync_state(self, folder: FakeFolder, state: str) -> int:
        try:
            prefix, version, folder_id, epoch, seq = (
                base64.b64decode(state, validate=True).decode().split("/")
            )
            value = int(seq)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            value = -1
            prefix, version, folder_id, epoch = "", "", "", ""
        expected = ("fake-sync", "v1", folder.id, str(self._sync_epoch))
        if (prefix, version, folder_id, epoch) != expected or value < 0:
            raise ResponseError(
                "ErrorInvalidSyncStateData",
                "Synchronization state data is corrupt or otherwise invalid.",
            )
        return value

    def _sync_folder_items(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("SyncFolderItems")
        target = _find(request, "SyncFolderId")
        try:
            if target is None or not len(target):
                raise ResponseError("ErrorInvalidRequest", "SyncFolderId is missing.")
            folder = self._resolve_folder(target[0])
            state = _text(request, "SyncState")
            since = self._read_sync_state(folder, state) if state else 0
        except ResponseError as error:
            message = self._message(messages, "SyncFolderItems", error)
            # Exchange still sends these two elements with an error, and exchangelib reads them.
            _sub(message, MNS, "SyncState", "")
            _sub(message, MNS, "IncludesLastItemInRange", "true")
            return response
        limit = int(_text(request, "MaxChangesReturned") or 512)
        shape = Shape.of(_find(request, "ItemShape"))
        changes: list[tuple[int, str, FakeItem | str]] = []
        for item in self._folder_items(folder):
            if item.changed_seq > since:
                kind = "Create" if item.created_seq > since else "Update"
                changes.append((item.changed_seq, kind, item))
        for seq, item_id, folder_id in self._deleted:
            if seq > since and folder_id == folder.id:
                changes.append((seq, "Delete", item_id))
        changes.sort(key=lambda change: change[0])
        page = changes[:limit]
        last = len(page) == len(changes)
        new_seq = page[-1][0] if page and not last else max([since, *(c[0] for c in changes)])
        message = self._message(messages, "SyncFolderItems")
        _sub(message, MNS, "SyncState", self._sync_state(folder, new_seq))
        _sub(message, MNS, "IncludesLastItemInRange", _bool(last))
        container = _sub(message, MNS, "Changes")
        self._items_answered = len(page)
        for _, kind, subject in page:
            change = _sub(container, TNS, kind)
            if isinstance(subject, str):
                _sub(change, TNS, "ItemId").set("Id", subject)
            else:
                self._item_element(change, subject, shape=shape)
        return response

    # -- free/busy -----------------------------------------------------------------------

    @staticmethod
    def _request_zone(request: ET.Element) -> dt.tzinfo:
        """The fixed offset of the request's SerializableTimeZone (standard time)."""
        zone = _find(request, "TimeZone")
        if zone is None:
            return dt.UTC
        bias = int(_text(zone, "Bias") or 0) + int(_text(zone, "StandardTime", "Bias") or 0)
        return dt.timezone(-dt.timedelta(minutes=bias))

    def _availability_events(
        self, start: dt.datetime, end: dt.datetime
    ) -> Iterator[tuple[FakeItem, dt.datetime, dt.datetime]]:
        """What the availability service sees: the default calendar only, without cancelled or
        declined items, recurring masters expanded."""
        for item in self._folder_items(self.calendar):
            if item.cancelled or item.my_response == "Decline":
                continue
            for _, first, last, _ in item.instances():
                if first < end and last > start:
                    yield item, first, last

    def _busy_type(self, item: FakeItem) -> str:
        """WorkingElsewhere exists from Exchange 2013 on; older servers store such items free."""
        if item.free_busy == "WorkingElsewhere" and (self.build.major, self.build.minor) < (15, 0):
            return "Free"
        return item.free_busy

    def _get_user_availability(
        self, request: ET.Element, log: LoggedRequest
    ) -> tuple[ET.Element, LoggedRequest]:
        zone = self._request_zone(request)
        mailboxes = [
            _text(data, "Email", "Address") or ""
            for data in _find(request, "MailboxDataArray") or []
        ]
        window = _find(request, "FreeBusyViewOptions", "TimeWindow")
        assert window is not None
        start = _parse_datetime(_text(window, "StartTime") or "", zone)
        end = _parse_datetime(_text(window, "EndTime") or "", zone)
        log = LoggedRequest(log.operation, 200, len(mailboxes), (start, end), log.requested_version)
        if len(mailboxes) > MAX_AVAILABILITY_MAILBOXES:
            raise SoapFault("ErrorMailboxDataArrayTooBig", "Too many mailboxes.", log=log)
        if end - start > MAX_AVAILABILITY_SPAN:
            raise SoapFault("ErrorTimeIntervalTooBig", "The window exceeds 42 days.", log=log)
        response = ET.Element(_q(MNS, "GetUserAvailabilityResponse"))
        array = _sub(response, MNS, "FreeBusyResponseArray")
        for address in mailboxes:
            entry = _sub(array, MNS, "FreeBusyResponse")
            message = _sub(entry, MNS, "ResponseMessage")
            known = address.lower() in {self.email.lower(), *self.other_mailboxes}
            if not known and address not in self.no_data_mailboxes:
                message.set("ResponseClass", "Error")
                _sub(message, MNS, "MessageText", "No mailbox with such guid.")
                _sub(message, MNS, "ResponseCode", "ErrorMailRecipientNotFound")
                _sub(message, MNS, "DescriptiveLinkKey", "0")
                continue
            message.set("ResponseClass", "Success")
            _sub(message, MNS, "ResponseCode", "NoError")
            view = _sub(entry, MNS, "FreeBusyView")
            _sub(view, TNS, "FreeBusyViewType", "Detailed")
            events = _sub(view, TNS, "CalendarEventArray")
            if address in self.no_data_mailboxes:
                self._calendar_event(events, start, end, "NoData", zone)
            elif address.lower() == self.email.lower():
                for item, first, last in self._availability_events(start, end):
                    self._calendar_event(events, first, last, self._busy_type(item), zone, item)
        return response, log

    @staticmethod
    def _calendar_event(
        parent: ET.Element,
        start: dt.datetime,
        end: dt.datetime,
        busy_type: str,
        zone: dt.tzinfo,
        item: FakeItem | None = None,
    ) -> None:
        event = _sub(parent, TNS, "CalendarEvent")
        # Availability answers carry local times of the requested zone, without an offset.
        _sub(event, TNS, "StartTime", start.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S"))
        _sub(event, TNS, "EndTime", end.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S"))
        _sub(event, TNS, "BusyType", busy_type)
        if item is None:
            return
        details = _sub(event, TNS, "CalendarEventDetails")
        private = item.sensitivity == "Private"
        _sub(details, TNS, "ID", item.id)
        if not private:
            _sub(details, TNS, "Subject", item.subject)
        _sub(details, TNS, "IsMeeting", _bool(bool(item.attendees)))
        _sub(details, TNS, "IsRecurring", _bool(item.occurrences is not None))
        _sub(details, TNS, "IsException", "false")
        _sub(details, TNS, "IsReminderSet", "false")
        _sub(details, TNS, "IsPrivate", _bool(private))

    # -- configuration and autodiscover --------------------------------------------------

    def _get_user_configuration(self, request: ET.Element) -> ET.Element:
        response, messages = self._response("GetUserConfiguration")
        name_element = _find(request, "UserConfigurationName")
        assert name_element is not None
        name = name_element.get("Name")
        try:
            folder = self._resolve_folder(name_element[0])
        except ResponseError as error:
            self._message(messages, "GetUserConfiguration", error)
            return response
        windows_zone = WINDOWS_ZONES[self.time_zone]
        owa = name == "OWA.UserOptions" and folder is self.root and self.zone_source == "owa"
        work_hours = name == "WorkHours" and folder is self.calendar and self.zone_source != "none"
        if not owa and not work_hours:
            refusal = ResponseError("ErrorItemNotFound", "The specified object was not found.")
            self._message(messages, "GetUserConfiguration", refusal)
            return response
        message = self._message(messages, "GetUserConfiguration")
        configuration = _sub(message, MNS, "UserConfiguration")
        config_name = _sub(configuration, TNS, "UserConfigurationName")
        config_name.set("Name", name or "")
        _sub(config_name, TNS, "FolderId").set("Id", folder.id)
        _sub(configuration, TNS, "ItemId").set("Id", f"AAMkConfig-{name}")
        if owa:
            dictionary = _sub(configuration, TNS, "Dictionary")
            for key, value in (("timezone", windows_zone), ("timeformat", "HH:mm")):
                entry = _sub(dictionary, TNS, "DictionaryEntry")
                key_element = _sub(entry, TNS, "DictionaryKey")
                _sub(key_element, TNS, "Type", "String")
                _sub(key_element, TNS, "Value", key)
                value_element = _sub(entry, TNS, "DictionaryValue")
                _sub(value_element, TNS, "Type", "String")
                _sub(value_element, TNS, "Value", value)
        else:
            work_hours_xml = (
                '<?xml version="1.0"?><Root xmlns="WorkingHours.xsd"><WorkHoursVersion1>'
                "<TimeZone><Bias>300</Bias><Standard><Bias>0</Bias></Standard>"
                f"<DaylightSavings><Bias>-60</Bias></DaylightSavings><Name>{windows_zone}</Name>"
                "</TimeZone><TimeSlot><Start>09:00:00</Start><End>17:00:00</End></TimeSlot>"
                "<WorkDays>Monday Tuesday Wednesday Thursday Friday</WorkDays>"
                "</WorkHoursVersion1></Root>"
            )
            _sub(configuration, TNS, "XmlData", base64.b64encode(work_hours_xml.encode()).decode())
        return response

    def _convert_id(self, request: ET.Element) -> ET.Element:
        """Exchangelib's version probe converts a dummy id: answer as Exchange does for an id
        it cannot parse (the answer only matters for its version header)."""
        response, messages = self._response("ConvertId")
        for _ in _find(request, "SourceIds") or []:
            refusal = ResponseError("ErrorInvalidIdMalformed", "Id is malformed.")
            self._message(messages, "ConvertId", refusal)
        return response

    def _autodiscover(self, request: ET.Element) -> bytes:
        users = [
            (_text(user, "Mailbox") or "") for user in _find(request, "Request", "Users") or []
        ]
        envelope = ET.Element(_q(SOAP, "Envelope"))
        header = _sub(envelope, SOAP, "Header")
        info = _sub(header, ANS, "ServerVersionInfo")
        _sub(info, ANS, "MajorVersion", str(self.build.major))
        _sub(info, ANS, "MinorVersion", str(self.build.minor))
        _sub(info, ANS, "MajorBuildNumber", str(self.build.major_build))
        _sub(info, ANS, "MinorBuildNumber", str(self.build.minor_build))
        _sub(info, ANS, "Version", self.build.api_version)
        body = _sub(envelope, SOAP, "Body")
        message = _sub(body, ANS, "GetUserSettingsResponseMessage")
        outer = _sub(message, ANS, "Response")
        _sub(outer, ANS, "ErrorCode", "NoError")
        _sub(outer, ANS, "ErrorMessage", "")
        responses = _sub(outer, ANS, "UserResponses")
        for user in users:
            entry = _sub(responses, ANS, "UserResponse")
            if user.lower() != self.email.lower():
                _sub(entry, ANS, "ErrorCode", "InvalidUser")
                _sub(entry, ANS, "ErrorMessage", "Invalid user.")
                continue
            _sub(entry, ANS, "ErrorCode", "NoError")
            _sub(entry, ANS, "ErrorMessage", "No error.")
            _sub(entry, ANS, "UserSettingErrors")
            settings = _sub(entry, ANS, "UserSettings")
            for name, value in (
                ("AutoDiscoverSMTPAddress", self.email),
                ("ExternalEwsUrl", self.url),
            ):
                setting = _sub(settings, ANS, "UserSetting")
                setting.set(_q(XSI, "type"), "StringSetting")
                _sub(setting, ANS, "Name", name)
                _sub(setting, ANS, "Value", value)
        return _serialize(envelope)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with explicit lengths: exchangelib reads `Connection: close` on an error answer
    as "server busy", so the fake keeps connections alive like IIS does."""

    protocol_version = "HTTP/1.1"
    server_fake: FakeExchange

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if path not in (EWS_PATH, AUTODISCOVER_PATH):
            self._send(404, b"", {})
            return
        status, payload, delay = self.server_fake.handle(
            path, self.headers.get("Authorization"), body
        )
        if delay:
            time.sleep(delay)
        headers = {"Content-Type": "text/xml; charset=utf-8"} if payload else {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="fake-exchange"'
        self._send(status, payload, headers)

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `FakeExchange.requests` instead."""


def mailbox_addresses(count: int, domain: str = "example.test") -> list[str]:
    """`count` distinct addresses, for free/busy splitting tests."""
    return [f"person{index:03d}@{domain}" for index in range(count)]
