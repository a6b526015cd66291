"""Who the client is (C25): the socket's peer unless it is a trusted proxy; through trusted
proxies, the rightmost forwarded address that is not one; IPv6 clients counted by /64."""

from __future__ import annotations

import re

import pytest

from slotgraph.limits.addresses import TrustedProxies
from slotgraph.limits.addresses import client_address
from slotgraph.limits.addresses import limit_key

PROXIES = TrustedProxies.parse(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.5", [], "203.0.113.5"),
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # untrusted peer: header ignored
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1, 10.0.0.3"], "198.51.100.1"),  # spoof left of it
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # several headers, in order
        ("10.0.0.2", ["10.0.0.9"], "10.0.0.9"),  # only proxies: the last one seen
        ("10.0.0.2", ["not-an-address"], "10.0.0.2"),
        ("::1", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("10.0.0.2", [], "10.0.0.2"),
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_client_address_believes_forwarding_only_from_trusted_proxies(
    peer: str | None, forwarded: list[str], client: str
) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def test_no_proxy_is_trusted_by_default() -> None:
    assert client_address("127.0.0.1", ["198.51.100.1"], TrustedProxies()) == "127.0.0.1"


def test_ipv6_clients_are_counted_by_their_64_network() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9")
    assert limit_key("2001:db8:1:2::1") != limit_key("2001:db8:1:3::1")
    assert limit_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert limit_key("192.0.2.1") == "192.0.2.1"


def test_a_bad_trusted_proxy_entry_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.300' is not an IP address")):
        TrustedProxies.parse(["10.0.0.300"])
