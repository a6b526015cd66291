"""WebDAV/CalDAV on the wire: the XML bodies we send (PROPFIND, calendar-query,
calendar-multiget, sync-collection, MKCALENDAR) and the multistatus answers we read.

Bodies are parsed with the standard library's expat-based parser, which expands no
external entities; a body that is not XML is the server's fault, reported as
`NotACalDavServer` by the caller, never echoed.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Final
from urllib.parse import unquote
from urllib.parse import urljoin
from urllib.parse import urlsplit

DAV: Final = "DAV:"
CALDAV: Final = "urn:ietf:params:xml:ns:caldav"
CS: Final = "http://calendarserver.org/ns/"
ICAL: Final = "http://apple.com/ns/ical/"

ET.register_namespace("D", DAV)
ET.register_namespace("C", CALDAV)
ET.register_namespace("CS", CS)
ET.register_namespace("I", ICAL)


def q(namespace: str, name: str) -> str:
    """An ElementTree qualified name, `{namespace}name`."""
    return f"{{{namespace}}}{name}"


@dataclass(frozen=True, slots=True)
class Resource:
    """One `<D:response>` of a multistatus: its href (a path, decoded), the properties the
    server found (`props`, by qualified name) and the status of a response without props
    (sync-collection reports a removed member as 404)."""

    href: str
    props: dict[str, ET.Element] = field(default_factory=dict)
    status: int | None = None

    def text(self, name: str) -> str | None:
        element = self.props.get(name)
        if element is None or element.text is None:
            return None
        return element.text.strip() or None

    def child_href(self, name: str) -> str | None:
        """The `<D:href>` inside a property (current-user-principal, calendar-home-set...)."""
        element = self.props.get(name)
        if element is None:
            return None
        href = element.find(q(DAV, "href"))
        return None if href is None or not href.text else href.text.strip()

    def hrefs(self, name: str) -> list[str]:
        element = self.props.get(name)
        if element is None:
            return []
        return [h.text.strip() for h in element.iter(q(DAV, "href")) if h.text]

    def has(self, name: str, child: str) -> bool:
        """Whether property `name` holds an element `child` (resourcetype, privileges)."""
        element = self.props.get(name)
        return element is not None and element.find(f".//{child}") is not None


def _status_code(element: ET.Element | None) -> int | None:
    if element is None or not element.text:
        return None
    parts = element.text.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def parse_multistatus(body: bytes) -> tuple[list[Resource], str | None]:
    """The responses of a 207 answer and its top-level `<D:sync-token>` (sync-collection).
    Raises ValueError when the body is not a multistatus."""
    root = ET.fromstring(body)  # noqa: S314 - see the module docstring
    if root.tag != q(DAV, "multistatus"):
        raise ValueError("not a multistatus")
    resources: list[Resource] = []
    for response in root.findall(q(DAV, "response")):
        href = response.find(q(DAV, "href"))
        if href is None or not href.text:
            continue
        props: dict[str, ET.Element] = {}
        for propstat in response.findall(q(DAV, "propstat")):
            status = _status_code(propstat.find(q(DAV, "status")))
            prop = propstat.find(q(DAV, "prop"))
            if prop is None or (status is not None and not 200 <= status < 300):
                continue
            for element in prop:
                props[element.tag] = element
        resources.append(
            Resource(
                href=unquote(urlsplit(href.text.strip()).path),
                props=props,
                status=_status_code(response.find(q(DAV, "status"))),
            )
        )
    token = root.find(q(DAV, "sync-token"))
    return resources, (token.text.strip() if token is not None and token.text else None)


def error_hrefs(body: bytes, condition: str) -> list[str] | None:
    """The hrefs inside a precondition of a `<D:error>` body (e.g. CalDAV's
    `no-uid-conflict`, naming the resource that already holds the UID); None when the body
    is not that error."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - see the module docstring
    except ET.ParseError:
        return None
    element = root.find(f".//{condition}")
    if element is None:
        return None
    return [unquote(urlsplit(h.text.strip()).path) for h in element.iter(q(DAV, "href")) if h.text]


def has_error(body: bytes, condition: str) -> bool:
    return error_hrefs(body, condition) is not None


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root)


def _prop(parent: ET.Element, names: Iterable[str]) -> None:
    prop = ET.SubElement(parent, q(DAV, "prop"))
    for name in names:
        ET.SubElement(prop, name)


def propfind(names: Iterable[str]) -> bytes:
    root = ET.Element(q(DAV, "propfind"))
    _prop(root, names)
    return _xml(root)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_query(start: dt.datetime, end: dt.datetime) -> bytes:
    """Every VEVENT resource overlapping `[start, end)`, with its data and ETag (RFC 4791
    7.8); recurrences are expanded by us, not by the server (servers differ)."""
    root = ET.Element(q(CALDAV, "calendar-query"))
    _prop(root, [q(DAV, "getetag"), q(CALDAV, "calendar-data")])
    calendar = ET.SubElement(ET.SubElement(root, q(CALDAV, "filter")), q(CALDAV, "comp-filter"))
    calendar.set("name", "VCALENDAR")
    event = ET.SubElement(calendar, q(CALDAV, "comp-filter"))
    event.set("name", "VEVENT")
    span = ET.SubElement(event, q(CALDAV, "time-range"))
    span.set("start", _utc(start))
    span.set("end", _utc(end))
    return _xml(root)


def multiget(hrefs: Sequence[str]) -> bytes:
    root = ET.Element(q(CALDAV, "calendar-multiget"))
    _prop(root, [q(DAV, "getetag"), q(CALDAV, "calendar-data")])
    for href in hrefs:
        ET.SubElement(root, q(DAV, "href")).text = href
    return _xml(root)


def sync_collection(token: str) -> bytes:
    """RFC 6578: members changed or removed since `token`, with their ETags only."""
    root = ET.Element(q(DAV, "sync-collection"))
    ET.SubElement(root, q(DAV, "sync-token")).text = token
    ET.SubElement(root, q(DAV, "sync-level")).text = "1"
    _prop(root, [q(DAV, "getetag")])
    return _xml(root)


def mkcalendar(name: str, time_zone_ical: str | None) -> bytes:
    root = ET.Element(q(CALDAV, "mkcalendar"))
    prop = ET.SubElement(ET.SubElement(root, q(DAV, "set")), q(DAV, "prop"))
    ET.SubElement(prop, q(DAV, "displayname")).text = name
    components = ET.SubElement(prop, q(CALDAV, "supported-calendar-component-set"))
    ET.SubElement(components, q(CALDAV, "comp")).set("name", "VEVENT")
    if time_zone_ical:
        ET.SubElement(prop, q(CALDAV, "calendar-timezone")).text = time_zone_ical
    return _xml(root)


def absolute(base: str, href: str) -> str:
    """`href` (a path or URL from an answer) against `base`, as an absolute URL."""
    return urljoin(base, href)


def path_of(url: str) -> str:
    return unquote(urlsplit(url).path)


def same_path(a: str, b: str) -> bool:
    return path_of(a).rstrip("/") == path_of(b).rstrip("/")
