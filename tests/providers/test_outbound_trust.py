"""Outbound trust (C46) through the adapters' real client code: one CA setting adds trusted
CAs for every outbound TLS connection (EWS over requests, Graph over httpx), a certificate no
trusted CA signed is `TlsCertificateUntrusted`, and a user-supplied URL (an EWS server URL)
never reaches a loopback, link-local or private address unless the operator allows it, the
check made on the connected socket's peer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import trustme
from aiosmtpd.controller import Controller
from exchangelib.protocol import BaseProtocol
from exchangelib.protocol import close_connections

from slotgraph.jobs.mail import Mailer
from slotgraph.jobs.mail import MailUnavailable
from slotgraph.jobs.mail import SmtpConfig
from slotgraph.jobs.mail import SmtpSecurity
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import AddressNotAllowed
from slotgraph.providers.base import TlsCertificateUntrusted
from slotgraph.providers.exchange import connect_exchange
from slotgraph.providers.exchange.ews import install_trust
from slotgraph.providers.microsoft.client import MicrosoftCalendarClient
from slotgraph.providers.outbound import CheckedTransport
from slotgraph.providers.outbound import Trust
from slotgraph.providers.retry import FAST
from tests.fakes.exchange import FakeExchange
from tests.fakes.microsoft import EMAIL
from tests.fakes.microsoft import FakeMicrosoft
from tests.helpers.exchange import TIMEOUT
from tests.helpers.exchange import creds_for

LOOPBACK = ("127.0.0.0/8", "::1/128")


@pytest.fixture(autouse=True)
def _restore_ews_adapter() -> Iterator[None]:
    """`install_trust` is process-wide (exchangelib reads one class attribute)."""
    saved = BaseProtocol.HTTP_ADAPTER_CLS
    close_connections()
    yield
    close_connections()
    BaseProtocol.HTTP_ADAPTER_CLS = saved


@pytest.fixture
def limiter() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(2)


@pytest.fixture
def internal(tmp_path: Path) -> tuple[trustme.CA, Path]:
    """An internal CA, as on-premises servers use, and its PEM bundle."""
    ca = trustme.CA()
    bundle = tmp_path / "internal-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ca, bundle


async def test_an_internal_ca_is_tls_certificate_untrusted_not_unreachable(
    limiter: anyio.CapacityLimiter, internal: tuple[trustme.CA, Path]
) -> None:
    with FakeExchange(tls=internal[0]) as fake:
        install_trust(Trust.of((), LOOPBACK))
        with pytest.raises(TlsCertificateUntrusted) as untrusted:
            await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
        assert "SLOTGRAPH_CA_BUNDLE" in untrusted.value.message
        assert fake.requests == []


async def test_the_ca_setting_makes_an_internal_ca_trusted_for_ews(
    limiter: anyio.CapacityLimiter, internal: tuple[trustme.CA, Path]
) -> None:
    ca, bundle = internal
    with FakeExchange(tls=ca) as fake:
        install_trust(Trust.of((bundle,), LOOPBACK))
        info = await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
    assert info.ews_url.startswith("https://")


async def test_a_user_supplied_url_to_a_private_address_is_refused_unless_allowed(
    limiter: anyio.CapacityLimiter,
) -> None:
    with FakeExchange() as fake:
        install_trust(Trust.of((), ()))  # production: no private networks allowed
        with pytest.raises(AddressNotAllowed):
            await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
        assert fake.requests == []  # refused at connect time, before a byte was sent

        close_connections()
        install_trust(Trust.of((), ("127.0.0.0/8",)))
        info = await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
    assert info.ews_url == fake.url


class _Listener:
    """A TCP listener standing in for an HTTP proxy: it counts the connections it gets and
    closes them."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.port = int(self._socket.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


@pytest.fixture
def proxy_in_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Listener]:
    """HTTP(S)_PROXY pointing at a local listener, as on a host behind a corporate proxy."""
    listener = _Listener()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{listener.port}")
        monkeypatch.setenv(name.lower(), f"http://127.0.0.1:{listener.port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield listener
    finally:
        listener.close()


async def test_a_proxy_in_the_environment_does_not_get_around_the_peer_check(
    limiter: anyio.CapacityLimiter, proxy_in_environment: _Listener
) -> None:
    with FakeExchange() as fake:
        install_trust(Trust.of((), ()))
        with pytest.raises(AddressNotAllowed):
            await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
        assert fake.requests == []

        close_connections()
        install_trust(Trust.of((), ("127.0.0.0/8",)))
        info = await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
    assert info.ews_url == fake.url  # reached straight, not through the proxy
    assert proxy_in_environment.connections == 0


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "64:ff9b::10.0.0.1",  # NAT64, well-known prefix
        "64:ff9b::127.0.0.1",
        "64:ff9b::169.254.169.254",
        "64:ff9b:1::5db8:d822",  # local-use NAT64: embedding unknowable, refused
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "::10.0.0.1",  # IPv4-compatible
        "::127.0.0.1",
        "::ffff:0:10.0.0.1",  # IPv4-translated
        "::ffff:0:a9fe:a9fe",  # IPv4-translated 169.254.169.254
        "2001::1",  # Teredo
    ],
)
def test_the_peer_check_refuses_every_non_public_address_kind(address: str) -> None:
    with pytest.raises(AddressNotAllowed):
        Trust.of((), ()).check_peer(address)


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "::ffff:93.184.216.34", "64:ff9b::93.184.216.34", "2002:5db8:d822::1"],
)
def test_the_peer_check_lets_public_addresses_through(address: str) -> None:
    Trust.of((), ()).check_peer(address)


def test_allowed_networks_also_admit_their_embedded_forms() -> None:
    allowed = Trust.of((), ("10.0.0.0/8",))
    for address in ("10.1.2.3", "::ffff:10.1.2.3", "64:ff9b::10.1.2.3", "2002:a01:203::"):
        allowed.check_peer(address)


async def test_graph_behind_an_untrusted_certificate_is_tls_certificate_untrusted(
    tmp_path: Path,
) -> None:
    async def token(_refresh: bool) -> str:
        return "unused"

    with FakeMicrosoft() as fake:
        # Public CAs only: the fake's CA is no one's.
        async with httpx.AsyncClient(verify=Trust().ssl_context(), trust_env=False) as http:
            client = MicrosoftCalendarClient(
                http, token, account_email=EMAIL, base_url=fake.graph_url, timeout=2, retry=FAST
            )
            with pytest.raises(TlsCertificateUntrusted):
                await client.free_busy([EMAIL], dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC))
        bundle = fake.write_ca(tmp_path / "ca.pem")
        async with httpx.AsyncClient(verify=Trust.of((bundle,), ()).ssl_context()) as http:
            client = MicrosoftCalendarClient(
                http, token, account_email=EMAIL, base_url=fake.graph_url, timeout=2, retry=FAST
            )
            with pytest.raises(AccessRevoked) as refused:  # past TLS: the token is refused
                await client.list_calendars()
            assert not isinstance(refused.value, TlsCertificateUntrusted)


class _Inbox:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.received.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtps(tmp_path: Path) -> Iterator[tuple[_Inbox, int, Path]]:
    """A mail server speaking TLS from the first byte, its certificate from an internal CA."""
    internal = trustme.CA()
    bundle = tmp_path / "mail-ca.pem"
    internal.cert_pem.write_to_path(str(bundle))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    internal.issue_cert("127.0.0.1").configure_cert(context)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        yield inbox, port, bundle
    finally:
        controller.stop()


async def test_smtp_trusts_the_ca_setting_and_names_an_untrusted_certificate(
    smtps: tuple[_Inbox, int, Path],
) -> None:
    inbox, port, bundle = smtps
    config = SmtpConfig(
        host="127.0.0.1", port=port, sender="no-reply@slotgraph.test", security=SmtpSecurity.TLS
    )
    with pytest.raises(MailUnavailable) as untrusted:
        await Mailer(config).send("ada@example.test", "Hello", "Body")
    assert "SLOTGRAPH_CA_BUNDLE" in untrusted.value.message
    assert inbox.received == []

    trusted = dataclasses.replace(config, extra_ca=(bundle,))
    await Mailer(trusted).send("ada@example.test", "Hello", "Body")
    assert len(inbox.received) == 1


async def test_the_httpx_transport_for_user_supplied_urls_checks_the_connected_peer() -> None:
    with FakeExchange() as fake:  # any loopback HTTP server
        async with httpx.AsyncClient(transport=CheckedTransport(Trust.of((), ()))) as http:
            with pytest.raises(AddressNotAllowed):
                await http.post(fake.url, content=b"<x/>")
        assert fake.requests == []  # refused on connect, nothing sent
        allowed = CheckedTransport(Trust.of((), ("127.0.0.0/8",)))
        async with httpx.AsyncClient(transport=allowed) as http:
            answer = await http.post(fake.url, content=b"<x/>")
        assert answer.status_code == 400  # reached: the fake refuses the body


def test_an_allowed_endpoint_admits_that_address_and_port_only() -> None:
    """The demo's own Radicale (C29, C46): that server, not loopback at large."""
    demo = Trust.of((), (), (("127.0.0.1", 5232),))
    demo.check_peer("127.0.0.1", 5232)
    demo.check_peer("::ffff:127.0.0.1", 5232)
    for address, port in (("127.0.0.1", 5433), ("127.0.0.2", 5232), ("::1", 5232)):
        with pytest.raises(AddressNotAllowed):
            demo.check_peer(address, port)
    with pytest.raises(AddressNotAllowed):
        demo.check_peer("127.0.0.1")  # a caller that does not say the port
