"""exchangelib plumbing, run in worker threads: the Account with our timeouts and fail-fast
errors, folder handles without round trips, the mailbox's zone, calendar views with the
extended properties Slotgraph reads and writes (an item that cannot be read is skipped,
`slotgraph.providers.unreadable`), and the logging filter that keeps Basic
credentials out of exchangelib's debug records.

The mailbox zone comes from the mailbox's OWA settings, else its calendar working hours,
never from the server process. Calendar views call FindItem directly so that the all-day
MAPI property comes in the same request. Every function here blocks: call them only from
`errors.run_in_thread`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from functools import partial
from typing import Any
from typing import Final
from typing import cast
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

import structlog
from defusedxml.ElementTree import fromstring as parse_xml
from exchangelib import DELEGATE
from exchangelib import Account
from exchangelib import CalendarItem
from exchangelib import Configuration
from exchangelib import Credentials
from exchangelib import EWSTimeZone
from exchangelib import ExtendedProperty
from exchangelib import FailFast
from exchangelib.autodiscover.discovery import Autodiscovery
from exchangelib.errors import ErrorAccessDenied
from exchangelib.errors import ErrorFolderNotFound
from exchangelib.errors import ErrorItemNotFound
from exchangelib.errors import TransportError
from exchangelib.fields import FieldPath
from exchangelib.folders import Calendar
from exchangelib.folders import FolderCollection
from exchangelib.folders import Root
from exchangelib.items import ID_ONLY
from exchangelib.properties import CalendarView
from exchangelib.properties import DaylightTime
from exchangelib.properties import DistinguishedFolderId
from exchangelib.properties import Mailbox
from exchangelib.properties import StandardTime
from exchangelib.properties import TimeZone
from exchangelib.properties import UserConfigurationNameMNS
from exchangelib.protocol import BaseProtocol
from exchangelib.services import FindItem
from exchangelib.services import GetUserAvailability
from exchangelib.services import GetUserConfiguration
from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.exchange.wire import ALL_DAY_FIELD
from slotgraph.providers.exchange.wire import KEY_FIELD
from slotgraph.providers.exchange.wire import ews_time
from slotgraph.providers.exchange.wire import is_mailbox
from slotgraph.providers.exchange.wire import to_event
from slotgraph.providers.outbound import CheckedHTTPAdapter
from slotgraph.providers.outbound import Trust
from slotgraph.providers.unreadable import Skipped

log = structlog.get_logger("slotgraph.exchange")

MAX_CONNECTIONS: Final = 4  # sessions per login; Exchange throttles concurrent connections

_PRIMARY_FOLDER = "calendar"
_CALENDAR_CLASS = "IPF.Appointment"

# Fields of a calendar item the sync engine needs, asked for explicitly in FindItem and
# SyncFolderItems. All-day-ness is read from its MAPI property rather than `IsAllDayEvent`:
# given `IsAllDayEvent`, exchangelib turns the item's instants into dates by subtracting 24
# hours from the end, which lands on the wrong date when the last day is a 23-hour DST day.
_EVENT_FIELDS: Final = (
    "start",
    "end",
    "_start_timezone",
    "_end_timezone",
    "legacy_free_busy_status",
    "is_cancelled",
    "my_response_type",
    "sensitivity",
    "subject",
    "type",
)


class _AllDay(ExtendedProperty):  # type: ignore[misc]
    """PidLidAppointmentSubType, the MAPI property behind EWS's IsAllDayEvent."""

    distinguished_property_set_id = "Appointment"
    property_id = 0x8215
    property_type = "Boolean"


class _IdempotencyKey(ExtendedProperty):  # type: ignore[misc]
    """Slotgraph's idempotency key on the items it creates (a named MAPI string property in
    Slotgraph's own property set, invisible to users)."""

    property_set_id = "5107a9a0-7c1e-4d4b-9a57-8f2d3c6e1b11"
    property_name = "SlotgraphIdempotencyKey"
    property_type = "String"


for _name, _property in ((KEY_FIELD, _IdempotencyKey), (ALL_DAY_FIELD, _AllDay)):
    if _name not in {f.name for f in CalendarItem.FIELDS}:
        CalendarItem.register(_name, _property)


class Availability(GetUserAvailability):  # type: ignore[misc]
    """GetUserAvailability that reports every per-mailbox error in place (exchangelib would
    raise some of them, e.g. ErrorNoFreeBusyAccess, and lose the other mailboxes' answers)."""

    ERRORS_TO_CATCH_IN_RESPONSE = (TransportError,)


class BoundedAutodiscovery(Autodiscovery):  # type: ignore[misc]
    """exchangelib's autodiscover with DNS lookups bounded by our timeout (its default is ten
    seconds per lookup, and up to four lookups run when autodiscover fails)."""

    def __init__(self, email: str, credentials: Any, dns_timeout: float) -> None:
        super().__init__(email=email, credentials=credentials)
        self.DNS_RESOLVER_ATTRS = {"timeout": dns_timeout}
        self.DNS_RESOLVER_LIFETIME = dns_timeout


class _RedactAuthorization(logging.Filter):
    """exchangelib's debug record of every POST lists the request headers, Basic credentials
    included: replace the Authorization header before any handler sees the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, Mapping) and isinstance(args.get("request_headers"), Mapping):
            headers = cast(Mapping[str, object], args["request_headers"])
            record.args = {
                **args,
                "request_headers": {
                    name: "<redacted>" if name.lower() == "authorization" else value
                    for name, value in headers.items()
                },
            }
        return True


_exchangelib_http_log = logging.getLogger("exchangelib.util")
if not any(isinstance(f, _RedactAuthorization) for f in _exchangelib_http_log.filters):
    _exchangelib_http_log.addFilter(_RedactAuthorization())


def install_trust(trust: Trust) -> None:
    """C46 for every EWS request: exchangelib builds all its HTTP sessions (EWS and
    autodiscover) from one class attribute, so the checked adapter is installed
    process-wide; the process has one set of settings, hence one `Trust`."""
    BaseProtocol.HTTP_ADAPTER_CLS = CheckedHTTPAdapter.for_trust(trust)


# -- exchangelib helpers (worker threads) --------------------------------------------------


def make_account(
    email: str, username: str, password: str, ews_url: str, version: Any, timeout: float
) -> Any:
    """An exchangelib Account with delegate access, fail-fast errors (retries are ours) and
    per-request timeouts. exchangelib caches the protocol per (URL, credentials)."""
    config = Configuration(
        service_endpoint=ews_url,
        credentials=Credentials(username, password),
        version=version,
        retry_policy=FailFast(),
        max_connections=MAX_CONNECTIONS,
    )
    account = Account(
        primary_smtp_address=email,
        config=config,
        access_type=DELEGATE,
        autodiscover=False,
        default_timezone=EWSTimeZone("UTC"),
        locale="en_US",
    )
    protocol = account.protocol
    protocol.TIMEOUT = timeout  # each HTTP request
    # With fail-fast errors, exchangelib turns its own retry wait into a fake back-off hint on
    # connection errors; zero keeps "no hint" distinguishable from Exchange's real hints.
    protocol.RETRY_WAIT = 0
    return account


def calendar_folder(account: Any, calendar_id: str) -> Any:
    """A folder handle without a round trip: the mailbox's calendar for an address, else a
    folder id. The root is a local stub so exchangelib never walks the whole hierarchy."""
    root = Root(account=account)
    if is_mailbox(calendar_id):
        return Calendar(
            root=root,
            _distinguished_id=DistinguishedFolderId(
                id=_PRIMARY_FOLDER, mailbox=Mailbox(email_address=calendar_id)
            ),
        )
    return Calendar(root=root, id=calendar_id)


def primary_folder(account: Any) -> Any:
    stub = calendar_folder(account, account.primary_smtp_address)
    (folder,) = FolderCollection(account=account, folders=[stub]).resolve()
    if isinstance(folder, Exception):
        raise folder
    return folder


def sub_calendars(account: Any, parent: Any) -> list[Any]:
    found = FolderCollection(account=account, folders=[parent]).find_folders(depth="Deep")
    calendars = []
    for folder in found:
        if isinstance(folder, Exception):
            raise folder
        if str(folder.folder_class or "").startswith(_CALENDAR_CLASS):
            calendars.append(folder)
    return calendars


def mailbox_zone(account: Any) -> str:
    """The mailbox's IANA zone: OWA's regional settings, else the calendar's working hours,
    else UTC (logged: all-day events would then be placed in UTC)."""
    mailbox = Mailbox(email_address=account.primary_smtp_address)
    windows_zone = _configuration_value(
        account, "OWA.UserOptions", DistinguishedFolderId(id="root", mailbox=mailbox), "Dictionary"
    )
    if windows_zone is None:
        windows_zone = _configuration_value(
            account,
            "WorkHours",
            DistinguishedFolderId(id=_PRIMARY_FOLDER, mailbox=mailbox),
            "XmlData",
        )
    zone = _iana_zone(windows_zone) if windows_zone else None
    if zone is None:
        log.warning("exchange_mailbox_zone_unknown", email=account.primary_smtp_address)
        return "UTC"
    return zone


def _configuration_value(account: Any, name: str, folder: Any, properties: str) -> str | None:
    """One optional look-up: whatever it fails with (a missing setting, a refusal, a server
    or network fault) only means "unknown", logged with its cause; the caller falls back."""
    try:
        configuration = GetUserConfiguration(account=account).get(
            user_configuration_name=UserConfigurationNameMNS(name=name, folder=folder),
            properties=properties,
        )
    except (ErrorItemNotFound, ErrorFolderNotFound, ErrorAccessDenied):
        return None
    except Exception as error:  # optional: exchangelib and requests raise many types
        log.warning(
            "exchange_optional_lookup_failed",
            lookup=name,
            email=account.primary_smtp_address,
            cause=type(error).__name__,
        )
        return None
    if properties == "Dictionary":
        value = (configuration.dictionary or {}).get("timezone")
        return str(value) if value else None
    return _work_hours_zone(configuration.xml_data)


def _work_hours_zone(xml_data: bytes | None) -> str | None:
    if not xml_data:
        return None
    try:
        document = parse_xml(xml_data)
    except Exception:  # a malformed setting only means "unknown"
        return None
    for element in document.iter():
        if str(element.tag).endswith("}Name") or element.tag == "Name":
            return str(element.text) if element.text else None
    return None


def _iana_zone(windows_zone: str) -> str | None:
    candidate = MS_TIMEZONE_TO_IANA_MAP.get(windows_zone) or windows_zone
    try:
        ZoneInfo(str(candidate))
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return str(candidate)


def view_events(
    account: Any, folder: Any, start: dt.datetime, end: dt.datetime, zone: str, skipped: Skipped
) -> list[RemoteEvent]:
    """Events overlapping [start, end): a calendar view, so recurrences come expanded. FindItem
    is called directly so the extended all-day property comes in the same request (exchangelib's
    query sets fetch extended properties with a second, GetItem request)."""
    found = FindItem(account=account).call(
        folders=[folder],
        additional_fields=event_field_paths(),
        restriction=None,
        order_fields=None,
        shape=ID_ONLY,
        query_string=None,
        depth="Shallow",
        calendar_view=CalendarView(start=ews_time(start), end=ews_time(end)),
        max_items=None,
        offset=0,
    )
    events = []
    for item in found:
        if isinstance(item, Exception):
            raise item
        event = skipped.read(str(item.id), partial(to_event, item, zone))
        if event is not None:
            events.append(event)
    return events


def find_by_key(folder: Any, key: str) -> str | None:
    """The item written with `key` (FindItem restricted on the extended property), adopted
    only when it carries the key: a server that ignores or loosens the restriction must not
    hand us someone else's item."""
    for found in folder.filter(**{KEY_FIELD: key}).only("id", KEY_FIELD):
        if isinstance(found, Exception):
            raise found
        if getattr(found, KEY_FIELD, None) == key:
            return str(found.id)
    return None


def read_change(change: Any) -> tuple[str, Any]:
    if isinstance(change, Exception):
        raise change
    kind, item = change
    return str(kind), item


def field_path(name: str) -> Any:
    return FieldPath(field=CalendarItem.get_field_by_fieldname(name))


def event_field_paths() -> set[Any]:
    return {field_path(name) for name in (*_EVENT_FIELDS, ALL_DAY_FIELD)}


def utc_serializable_zone() -> Any:
    """UTC as an EWS SerializableTimeZone (no daylight saving), for availability requests."""
    transition = {"bias": 0, "time": dt.time(0), "occurrence": 1, "iso_month": 1, "weekday": 1}
    return TimeZone(
        bias=0, standard_time=StandardTime(**transition), daylight_time=DaylightTime(**transition)
    )
