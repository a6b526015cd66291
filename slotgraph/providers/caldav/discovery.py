"""Finding a user's CalDAV calendars (C28, C44): where the server is, who the user is on it,
and where their calendars live.

Where. A server URL the user typed is used as given. Otherwise the email's domain decides,
in C44's order: known providers first (iCloud, Fastmail: their domains never publish
RFC 6764 records for the user's own address), then RFC 6764 for the domain (DNS SRV
`_caldavs._tcp` / `_caldav._tcp` with the TXT `path`, then `https://domain/.well-known/caldav`),
then Nextcloud's fixed `/remote.php/dav`.

Who and where. From a starting URL: `current-user-principal` (RFC 5397), then on the
principal `calendar-home-set` (RFC 4791 6.2.1; iCloud answers a partition host there),
`calendar-user-address-set` (the user's addresses, to find their PARTSTAT, C4) and
`schedule-inbox-URL` whose `schedule-default-calendar-URL` (RFC 6638) names the calendar
meetings go to when the server offers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import dns.asyncresolver
import dns.exception
import dns.rdtypes.IN.SRV

from slotgraph.providers.base import AuthenticationFailed
from slotgraph.providers.base import NotACalDavServer
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import ServerUnreachable
from slotgraph.providers.base import TlsCertificateUntrusted
from slotgraph.providers.caldav.dav import CALDAV
from slotgraph.providers.caldav.dav import DAV
from slotgraph.providers.caldav.dav import Resource
from slotgraph.providers.caldav.dav import absolute
from slotgraph.providers.caldav.dav import parse_multistatus
from slotgraph.providers.caldav.dav import propfind
from slotgraph.providers.caldav.dav import q
from slotgraph.providers.caldav.errors import not_dav
from slotgraph.providers.caldav.http import DavHttp

# C44: providers recognized by the email's domain before any DNS look-up.
PRESETS: Final[dict[str, str]] = {
    "icloud.com": "https://caldav.icloud.com/",
    "me.com": "https://caldav.icloud.com/",
    "mac.com": "https://caldav.icloud.com/",
    "fastmail.com": "https://caldav.fastmail.com/dav/",
    "fastmail.fm": "https://caldav.fastmail.com/dav/",
    "messagingengine.com": "https://caldav.fastmail.com/dav/",
}
NEXTCLOUD_PATH: Final = "/remote.php/dav"


@dataclass(frozen=True, slots=True)
class Nameserver:
    """Where RFC 6764 SRV/TXT look-ups go: the system's resolver when None (production);
    tests name a responder they started."""

    address: str
    port: int = 53


@dataclass(frozen=True, slots=True)
class Account:
    """What discovery found: the principal, the calendar home, the user's addresses and the
    server's default calendar for meetings (None when it offers none)."""

    principal_url: str
    home_url: str
    addresses: tuple[str, ...]
    default_calendar_url: str | None


async def srv_candidates(domain: str, nameserver: Nameserver | None, lifetime: float) -> list[str]:
    """RFC 6764 section 3: the URLs the domain's SRV (and TXT `path`) records name, TLS
    first. A domain without records, or DNS that does not answer, gives none."""
    resolver = dns.asyncresolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        resolver.nameservers = [nameserver.address]
        resolver.port = nameserver.port
    resolver.lifetime = lifetime
    urls: list[str] = []
    for service, scheme in (("_caldavs._tcp", "https"), ("_caldav._tcp", "http")):
        name = f"{service}.{domain}"
        try:
            answer = await resolver.resolve(name, "SRV")
        except (dns.exception.DNSException, OSError):
            continue
        records = sorted(
            (r for r in answer if isinstance(r, dns.rdtypes.IN.SRV.SRV)),
            key=lambda r: (r.priority, -r.weight),
        )
        path = await _txt_path(resolver, name)
        for record in records:
            host = record.target.to_text().rstrip(".")
            if host:  # "." means: no such service here
                urls.append(f"{scheme}://{host}:{record.port}{path}")
    return urls


async def _txt_path(resolver: dns.asyncresolver.Resolver, name: str) -> str:
    try:
        answer = await resolver.resolve(name, "TXT")
    except (dns.exception.DNSException, OSError):
        return "/.well-known/caldav"
    for record in answer:
        for chunk in getattr(record, "strings", ()):
            text = chunk.decode("ascii", "replace")
            if text.startswith("path="):
                return text.removeprefix("path=") or "/"
    return "/.well-known/caldav"


async def starting_urls(
    email: str, server_url: str | None, nameserver: Nameserver | None, lifetime: float
) -> list[str]:
    """Where to look, in C44's order."""
    if server_url:
        return [server_url]
    domain = email.rsplit("@", 1)[-1].lower()
    if domain in PRESETS:
        return [PRESETS[domain]]
    srv = await srv_candidates(domain, nameserver, lifetime)
    return [*srv, f"https://{domain}/.well-known/caldav", f"https://{domain}{NEXTCLOUD_PATH}"]


async def discover(dav: DavHttp, urls: Sequence[str]) -> Account:
    """The first starting URL that leads to a calendar home. A refused login ends the
    search at once (the next URL would refuse it too); other failures try the next URL,
    and the most telling of them is raised."""
    failures: list[ProviderError] = []
    for url in urls:
        try:
            return await account_at(dav, url)
        except (AuthenticationFailed, TlsCertificateUntrusted):
            raise
        except ProviderError as error:
            failures.append(error)
    for kind in (NotACalDavServer, ServerUnreachable):
        found = next((e for e in failures if isinstance(e, kind)), None)
        if found is not None:
            raise found
    raise failures[0] if failures else NotACalDavServer("No CalDAV server was found.")


async def account_at(dav: DavHttp, url: str) -> Account:
    """Principal, home, addresses and default calendar, starting at `url`."""
    response = await dav.send(
        "PROPFIND",
        url,
        body=propfind([q(DAV, "current-user-principal"), q(CALDAV, "calendar-home-set")]),
        depth="0",
    )
    base = str(response.url)  # after redirects (/.well-known/caldav → the context path)
    resources = _read(response.content)
    first = resources[0] if resources else None
    principal = first.child_href(q(DAV, "current-user-principal")) if first else None
    if principal is None:
        raise NotACalDavServer(
            "This address answers WebDAV but names no CalDAV user; check the server URL."
        )
    principal_url = absolute(base, principal)
    answer = await dav.send(
        "PROPFIND",
        principal_url,
        body=propfind(
            [
                q(CALDAV, "calendar-home-set"),
                q(CALDAV, "calendar-user-address-set"),
                q(CALDAV, "schedule-inbox-URL"),
            ]
        ),
        depth="0",
    )
    found = _read(answer.content)
    props = found[0] if found else None
    home = props.child_href(q(CALDAV, "calendar-home-set")) if props else None
    if home is None:
        raise NotACalDavServer("This server names no calendar home for the user.")
    addresses = tuple(
        h.removeprefix("mailto:").lower()
        for h in (props.hrefs(q(CALDAV, "calendar-user-address-set")) if props else [])
        if h.lower().startswith("mailto:")
    )
    inbox = props.child_href(q(CALDAV, "schedule-inbox-URL")) if props else None
    default = await _default_calendar(dav, absolute(str(answer.url), inbox)) if inbox else None
    return Account(
        principal_url=principal_url,
        home_url=absolute(str(answer.url), home),
        addresses=addresses,
        default_calendar_url=default,
    )


async def _default_calendar(dav: DavHttp, inbox_url: str) -> str | None:
    """RFC 6638 9.2 `schedule-default-calendar-URL`, when the server offers it."""
    try:
        answer = await dav.send(
            "PROPFIND",
            inbox_url,
            body=propfind([q(CALDAV, "schedule-default-calendar-URL")]),
            depth="0",
        )
        resources = _read(answer.content)
    except ProviderError:
        return None  # optional: the first writable calendar stands in
    href = (
        resources[0].child_href(q(CALDAV, "schedule-default-calendar-URL")) if resources else None
    )
    return absolute(str(answer.url), href) if href else None


def _read(body: bytes) -> list[Resource]:
    try:
        return parse_multistatus(body)[0]
    except (ValueError, SyntaxError):
        raise not_dav(connecting=True) from None
