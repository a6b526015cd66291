"""DNS TXT look-ups for proving domain ownership (C40), with dnspython's async resolver.

`TxtResolver.lookup(name)` answers the TXT strings published at `name`: an empty tuple when
DNS says there is no such record (NXDOMAIN, or the name has no TXT), which is a definite
answer; `DnsUnavailable` when no name server answered in time, which says nothing about the
record and must never count as its absence.

The operator may name the name servers (`SLOTGRAPH_DNS_NAMESERVERS`, `ip` or `ip:port`, an
IPv6 address as `[ip]:port`); otherwise the system's resolver configuration is used. Tests
point it at a loopback responder they start, since DNS answers nothing on these machines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

DNS_PORT = 53


class DnsUnavailable(Exception):
    """No name server gave an answer (timeout, refused, unreachable)."""


def parse_nameserver(value: str) -> tuple[str, int]:
    """`ip`, `ip:port` or `[ipv6]:port` as (address, port); ValueError names a bad entry."""
    text = value.strip()
    address, port = text, DNS_PORT
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
    elif text.count(":") == 1:
        address, _, port_text = text.partition(":")
        port = int(port_text)
    ipaddress.ip_address(address)  # a name server is an address, not a name
    if not 0 < port < 65_536:
        raise ValueError(f"{value!r}: the port must be 1 to 65535")
    return address, port


@dataclass(frozen=True, slots=True)
class TxtResolver:
    """Where and how patiently TXT records are looked up; () uses the system's resolvers."""

    nameservers: tuple[str, ...] = ()
    timeout_seconds: float = 5.0

    def _resolver(self) -> dns.asyncresolver.Resolver:
        if not self.nameservers:
            try:
                return dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration as error:
                raise DnsUnavailable("no name servers are configured") from error
        resolver = dns.asyncresolver.Resolver(configure=False)
        servers: list[str | dns.nameserver.Nameserver] = []
        for entry in self.nameservers:
            address, port = parse_nameserver(entry)
            servers.append(dns.nameserver.Do53Nameserver(address, port))
        resolver.nameservers = servers
        return resolver

    async def lookup(self, name: str) -> tuple[str, ...]:
        """The TXT strings at `name` (each record's character strings joined)."""
        resolver = self._resolver()
        try:
            answer = await resolver.resolve(
                name, "TXT", lifetime=self.timeout_seconds, search=False
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return ()
        except dns.exception.DNSException as error:  # timeout, no server answered
            raise DnsUnavailable(str(error) or type(error).__name__) from error
        return tuple(_joined(rdata.strings) for rdata in answer)


def _joined(strings: Sequence[bytes]) -> str:
    return b"".join(strings).decode("utf-8", errors="replace")
