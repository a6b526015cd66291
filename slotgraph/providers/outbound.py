"""Outbound trust (C46), written once for every connection Slotgraph opens: which CAs a
TLS peer may chain to, and which addresses a user-supplied URL may reach.

Trust. `Trust.extra_ca` names the operator's CA bundles (`SLOTGRAPH_CA_BUNDLE`, and its alias
`SLOTGRAPH_MICROSOFT_CA_BUNDLE`); they are added to the public CAs (certifi), never put in
their place. `ssl_context()` serves httpx and aiosmtplib; `ca_file()` is the same set as one
PEM file, for libraries that take a path (requests under msal and exchangelib).

Addresses. A URL a user typed (an EWS server URL today; CalDAV servers and webhooks later)
must not reach loopback, link-local, private or other special addresses unless the operator
allows those networks (`allowed_networks`, CIDRs) or that one server (`allowed_endpoints`: an
address and port, as the demo allows its own Radicale and nothing else on loopback). The check
runs on the socket's connected
peer address (`check_peer`), not on a DNS answer read beforehand, so a name that resolves
elsewhere the second time (DNS rebinding) cannot get around it. `CheckedHTTPAdapter` applies
it to requests (exchangelib), `CheckedTransport` to httpx (CalDAV, webhooks).

A certificate the trusted CAs do not vouch for is `TlsCertificateUntrusted` (it tells the
operator to set `SLOTGRAPH_CA_BUNDLE`), never "unreachable": `is_certificate_failure` finds it
in whatever a library raised.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Final

import certifi
import httpcore
import httpx
import requests.adapters
from urllib3.connection import HTTPConnection
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.connectionpool import HTTPSConnectionPool

from slotgraph.providers.base import AddressNotAllowed

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes whose last 32 bits are an IPv4 address a gateway or the host's stack forwards
# to: NAT64's well-known prefix (RFC 6052), IPv4-compatible (RFC 4291, deprecated) and
# IPv4-translated (RFC 2765). IPv4-mapped and 6to4 have `ipaddress` properties of their own.
_LAST_32_BITS_IPV4: Final = tuple(
    ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")
)
# Local-use NAT64 (RFC 8215): the IPv4 address sits where the operator's prefix length puts
# it, so it cannot be read back; refused. Python 3.11's `is_global` still calls it global.
_NOT_PUBLIC: Final = (ipaddress.IPv6Network("64:ff9b:1::/48"),)
_CA_FILES: dict[str, str] = {}  # digest of a CA set -> the PEM file written for it
_CA_FILES_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Trust:
    """The CAs outbound TLS trusts (the public ones plus `extra_ca`) and the networks a
    user-supplied URL may reach although they are not public (`allowed_networks`)."""

    extra_ca: tuple[Path, ...] = ()
    allowed_networks: tuple[Network, ...] = ()
    allowed_endpoints: tuple[tuple[IPAddress, int], ...] = ()

    @classmethod
    def of(
        cls,
        extra_ca: Sequence[Path | None],
        allowed_networks: Sequence[str],
        allowed_endpoints: Sequence[tuple[str, int]] = (),
    ) -> Trust:
        return cls(
            tuple(dict.fromkeys(p for p in extra_ca if p is not None)),
            tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks),
            tuple((ipaddress.ip_address(host), port) for host, port in allowed_endpoints),
        )

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=certifi.where())
        for path in self.extra_ca:
            context.load_verify_locations(cafile=str(path))
        return context

    def ca_file(self) -> str:
        """The trusted CAs as one PEM file: written once per process and set, to a file only
        this user can write (`mkstemp`), so no one can plant a CA at a guessable path."""
        if not self.extra_ca:
            return certifi.where()
        pem = Path(certifi.where()).read_bytes()
        for path in self.extra_ca:
            pem += b"\n" + path.read_bytes()
        digest = hashlib.sha256(pem).hexdigest()
        with _CA_FILES_LOCK:
            written = _CA_FILES.get(digest)
            if written is None:
                handle, written = tempfile.mkstemp(prefix="slotgraph-ca-", suffix=".pem")
                with os.fdopen(handle, "wb") as out:
                    out.write(pem)
                _CA_FILES[digest] = written
        return written

    def check_peer(self, address: str, port: int | None = None) -> None:
        """Refuse a connected peer that is not a public address, unless allowed (its network,
        or exactly its address and `port`). An IPv6 address carrying an IPv4 one
        (`embedded_ipv4`) is judged by the IPv4 address, which is where its packets end up."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address):
            ip = embedded_ipv4(ip) or ip
        if ip.is_global and not ip.is_multicast and not any(ip in n for n in _NOT_PUBLIC):
            return
        if any(ip in network for network in self.allowed_networks):
            return
        if port is not None and (ip, port) in self.allowed_endpoints:
            return
        raise AddressNotAllowed(
            "That server address is on a private, loopback or link-local network, which "
            "this service does not connect to; use the server's public address."
        )


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address `ip` carries (IPv4-mapped, 6to4, NAT64, IPv4-compatible or
    -translated), if any: a peer check that looked only at the IPv6 address would let
    `64:ff9b::10.0.0.1` reach 10.0.0.1 through a NAT64 gateway."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in prefix for prefix in _LAST_32_BITS_IPV4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and everything it was raised from or wraps (requests, urllib3, httpx and
    exchangelib each wrap the failure below them their own way), each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
        reason = getattr(current, "reason", None)
        pending.extend([current.__cause__, current.__context__, *wrapped])
        if isinstance(reason, BaseException):
            pending.append(reason)


def is_certificate_failure(error: BaseException) -> bool:
    """Whether `error` comes from a certificate verification failure."""
    return any(
        isinstance(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e)
        for e in exception_chain(error)
    )


def find_refusal(error: BaseException) -> AddressNotAllowed | None:
    """The `AddressNotAllowed` a library wrapped on its way up, if any."""
    return next((e for e in exception_chain(error) if isinstance(e, AddressNotAllowed)), None)


# -- requests (exchangelib) ----------------------------------------------------------------


class _RefusedPeer(OSError):
    """Raised inside urllib3 so that it unwinds like a failed connect; carries the refusal."""

    def __init__(self, refusal: AddressNotAllowed) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def _checked_sock(connection: Any, trust: Trust) -> socket.socket:
    sock: socket.socket = HTTPConnection._new_conn(connection)
    try:
        peer = sock.getpeername()
        trust.check_peer(str(peer[0]), int(peer[1]))
    except AddressNotAllowed as refusal:
        sock.close()
        raise _RefusedPeer(refusal) from refusal
    return sock


def _connection_classes(trust: Trust) -> tuple[type[HTTPConnection], type[HTTPSConnection]]:
    class CheckedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _checked_sock(self, trust)

    class CheckedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _checked_sock(self, trust)

    return CheckedHTTPConnection, CheckedHTTPSConnection


class CheckedHTTPAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter with C46 applied: the trusted CAs verify every TLS peer (every
    request that verifies gets `Trust.ca_file()`), every new connection's peer address
    passes `Trust.check_peer` before a byte is sent, and no proxy from the environment is
    used (the check would see only the proxy). Install with `for_trust`."""

    trust: Trust = Trust()

    @classmethod
    def for_trust(cls, trust: Trust) -> type[CheckedHTTPAdapter]:
        return type("CheckedHTTPAdapterFor", (cls,), {"trust": trust})

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        plain, secure = _connection_classes(self.trust)
        http_pool = type("CheckedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": plain})
        https_pool = type("CheckedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": secure})
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Whatever requests merged from the environment (REQUESTS_CA_BUNDLE ...), the trusted
        # CAs are C46's; only an explicit "do not verify" is left alone.
        if kwargs.get("verify", True) is not False:
            kwargs["verify"] = self.trust.ca_file()
        # Nor a proxy from HTTP(S)_PROXY: through one, the connected peer is the proxy and
        # the user-supplied server is reached from it unchecked (like `CheckedTransport`).
        kwargs["proxies"] = {}
        return super().send(request, *args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Never reached (`send` drops proxies); refused should requests ever find one."""
        raise AddressNotAllowed("A user-supplied URL is not reached through a proxy.")


# -- httpx (CalDAV, webhooks) ------------------------------------------------------------


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, refusing a connected peer `Trust.check_peer` refuses
    before TLS or a request byte goes out."""

    def __init__(self, trust: Trust) -> None:
        self._trust = trust
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        try:
            peer = stream.get_extra_info("server_addr")
            self._trust.check_peer(str(peer[0]), int(peer[1]))
        except AddressNotAllowed:
            await stream.aclose()
            raise
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressNotAllowed("A user-supplied URL cannot reach a local socket.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


_DEFAULT_LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport for user-supplied URLs with C46 applied: the trusted CAs verify
    TLS peers and every new connection's peer address passes `Trust.check_peer`, raising
    `AddressNotAllowed` (a ProviderError, passed through `rest.mapped` unchanged).

    httpx offers no public way to give its transport a network backend, so the connection
    pool it builds is replaced by one with the checking backend (no proxies: a user-supplied
    URL goes straight to its server)."""

    def __init__(self, trust: Trust, *, limits: httpx.Limits = _DEFAULT_LIMITS) -> None:
        context = trust.ssl_context()
        super().__init__(verify=context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedBackend(trust),
        )
