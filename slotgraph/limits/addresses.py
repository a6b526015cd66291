"""Who the client is (C25): the socket's peer, or, only when that peer is a configured
trusted proxy, the address it forwarded in `X-Forwarded-For`.

Walking `X-Forwarded-For` from the right and stopping at the first address that is not a
trusted proxy is the only reading a client cannot forge: everything left of that entry was
written by whoever connected, so a spoofed header from an untrusted peer changes nothing.
No proxies are trusted by default (`SLOTGRAPH_TRUSTED_PROXIES`). uvicorn's own proxy-header
rewriting is turned off (`slotgraph serve`), so this is the one place that decides.

Limits count IPv6 clients by their /64 network (`limit_key`): one subscriber line usually
gets a whole /64, so counting single IPv6 addresses would not limit anyone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

UNKNOWN = "unknown"
IPV6_PREFIX = 64

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The reverse proxies whose forwarded address is believed."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        """From addresses or CIDR networks ("10.0.0.0/8", "::1"); ValueError names a bad one."""
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return cls(tuple(networks))

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)


def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: TrustedProxies) -> str:
    """The client's address: `peer` (the socket's), unless it is a trusted proxy; then the
    rightmost address of `forwarded_for` (every `X-Forwarded-For` header, in order) that is
    not itself a trusted proxy. An unreadable entry stops the walk at the last good one."""
    current = _parse(peer) if peer else None
    if current is None:
        return peer or UNKNOWN
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    while trusted.trusts(current) and hops:
        forwarded = _parse(hops.pop())
        if forwarded is None:
            break
        current = forwarded
    return str(current)


def limit_key(address: str) -> str:
    """What limits count a client by: its IPv4 address, or its IPv6 /64 network."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return address if parsed is None else str(parsed)
