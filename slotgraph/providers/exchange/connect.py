"""Connecting an Exchange 2010 SP2+ mailbox (S2): find the EWS URL (given, or by
autodiscover), refuse older servers, check the password and read the mailbox's time zone,
all within one deadline however many probes exchangelib would still make.

The password lives in `ExchangeCredentials` (hidden from its repr) and exchangelib's
`Credentials` (masked in its repr).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from functools import partial
from typing import Final
from urllib.parse import urlsplit

import anyio
from exchangelib import Credentials
from exchangelib.version import EXCHANGE_2010_SP2

from slotgraph.providers.base import AuthenticationFailed
from slotgraph.providers.base import DiscoveryFailed
from slotgraph.providers.base import ServerUnreachable
from slotgraph.providers.base import ServerUnsupported
from slotgraph.providers.exchange.errors import MIN_BUILD_TEXT
from slotgraph.providers.exchange.errors import connect_error
from slotgraph.providers.exchange.errors import discovery_error
from slotgraph.providers.exchange.errors import run_in_thread
from slotgraph.providers.exchange.ews import BoundedAutodiscovery
from slotgraph.providers.exchange.ews import mailbox_zone
from slotgraph.providers.exchange.ews import make_account
from slotgraph.providers.exchange.ews import primary_folder

# A whole connect (autodiscover, version probing, every username tried) answers within this:
# exchangelib probes many URLs and versions, each bounded only by `timeout`, and a connect a
# person waits on must never hang.
CONNECT_DEADLINE: Final = 30.0


@dataclass(frozen=True, slots=True)
class ExchangeCredentials:
    """What the user types to connect Exchange (S2). `username` defaults to the email address;
    `ews_url` to autodiscover."""

    email: str
    password: str = field(repr=False)
    username: str | None = None
    ews_url: str | None = None

    def __repr__(self) -> str:
        return (
            f"ExchangeCredentials(email={self.email!r}, username={self.username!r}, "
            f"ews_url={self.ews_url!r}, password=<hidden>)"
        )


@dataclass(frozen=True, slots=True)
class ExchangeAccountInfo:
    """A validated Exchange login: what to store to build `ExchangeCalendarClient` later.
    `version` is the EWS API version (e.g. "Exchange2010_SP2"), `build` the server build,
    `username` the login name the server accepted, `time_zone` the mailbox's IANA zone."""

    email: str
    ews_url: str
    version: str
    build: str
    time_zone: str
    username: str


async def connect_exchange(
    creds: ExchangeCredentials,
    *,
    limiter: anyio.CapacityLimiter,
    timeout: float,  # noqa: ASYNC109 - bounds each HTTP request made in the worker thread
    deadline: float = CONNECT_DEADLINE,
) -> ExchangeAccountInfo:
    """Validate an Exchange login (S2): find the EWS URL (given, or by autodiscover), refuse
    servers older than 2010 SP2, check the password and read the mailbox's time zone.

    Without an explicit username the email address is tried first, then the part before the
    "@", the two forms Exchange servers usually accept.
    Raises AuthenticationFailed (with the app-password hint), ServerUnsupported,
    ServerUnreachable or DiscoveryFailed, each with a message safe to show; all of it within
    `deadline` seconds, however many probes exchangelib would still make.
    """
    failure: AuthenticationFailed | None = None
    ends_at = anyio.current_time() + deadline

    def remaining() -> float:
        return max(0.0, ends_at - anyio.current_time())

    for username in _username_candidates(creds):
        if failure is not None and remaining() <= 0:
            break  # out of time: the refusal already seen is the better answer
        try:
            ews_url = creds.ews_url
            if not ews_url:
                ews_url = await run_in_thread(
                    partial(_discover, creds.email, username, creds.password, timeout),
                    limiter=limiter,
                    deadline=remaining(),
                    on_deadline=lambda: DiscoveryFailed(
                        "Autodiscover did not find the Exchange server in time; enter the EWS URL."
                    ),
                    translate=discovery_error,
                )
            await _check_host_resolves(ews_url, min(timeout, remaining()))
            return await run_in_thread(
                partial(_validate, creds.email, username, creds.password, ews_url, timeout),
                limiter=limiter,
                deadline=remaining(),
                on_deadline=lambda: ServerUnreachable(
                    "The Exchange server did not answer in time; check the EWS URL."
                ),
                translate=connect_error,
            )
        except AuthenticationFailed as error:
            failure = error
    assert failure is not None
    raise failure


async def _check_host_resolves(url: str, timeout: float) -> None:  # noqa: ASYNC109 - DNS bound
    """Fail fast on a host name that does not resolve: requests' timeouts do not cover name
    resolution, which can hang for long where DNS answers nothing."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerUnreachable("The EWS URL is not an http(s) URL; check the EWS URL.")
    try:
        with anyio.fail_after(timeout):
            await anyio.getaddrinfo(parts.hostname, parts.port or 443)
    except (OSError, TimeoutError):
        raise ServerUnreachable(
            "The EWS URL's host name could not be resolved; check the EWS URL."
        ) from None


def _username_candidates(creds: ExchangeCredentials) -> list[str]:
    if creds.username:
        return [creds.username]
    local_part = creds.email.split("@", 1)[0]
    return [creds.email] if local_part == creds.email else [creds.email, local_part]


def _discover(email: str, username: str, password: str, timeout: float) -> str:
    """The EWS URL autodiscover finds for `email` (exchangelib's SOAP autodiscover)."""
    dns_timeout = max(timeout / 4, 0.5)
    _, protocol = BoundedAutodiscovery(
        email, Credentials(username, password), dns_timeout
    ).discover()
    url = protocol.service_endpoint
    if not url:
        raise DiscoveryFailed("Autodiscover returned no EWS URL; enter the EWS URL.")
    return str(url)


def _validate(
    email: str, username: str, password: str, ews_url: str, timeout: float
) -> ExchangeAccountInfo:
    account = make_account(email, username, password, ews_url, None, timeout)
    version = account.protocol.version  # ConvertId probing, newest API version first
    if version.build is None or version.build < EXCHANGE_2010_SP2:
        raise ServerUnsupported(
            f"Slotgraph needs {MIN_BUILD_TEXT} or newer; this server reports build "
            f"{version.build} ({version.api_version})."
        )
    time_zone = mailbox_zone(account)
    primary_folder(account)  # proves the login may open its own calendar
    return ExchangeAccountInfo(
        email=email,
        ews_url=ews_url,
        version=str(version.api_version),
        build=str(version.build),
        time_zone=time_zone,
        username=username,
    )
