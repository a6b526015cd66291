"""One authenticated CalDAV request with the error mapping of `errors` and the retry
policy: what every other module of the adapter sends through.

Each request is bounded by `timeout`; the transport is the caller's, which for a
user-supplied server is `outbound.CheckedTransport` (C46: the peer address is checked at
connect time, the trusted CAs verify TLS). Redirects are followed (`/.well-known/caldav`
redirects by design) through that same transport, so they are checked too.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

import httpx

from slotgraph.providers.base import ProviderError
from slotgraph.providers.caldav.errors import status_error
from slotgraph.providers.caldav.errors import transport_error
from slotgraph.providers.retry import FAST
from slotgraph.providers.retry import RetryPolicy
from slotgraph.providers.retry import with_retries

XML_TYPE = "application/xml; charset=utf-8"
ICAL_TYPE = "text/calendar; charset=utf-8"


@dataclass(frozen=True, slots=True)
class DavHttp:
    """`http` with one login. `connecting`: errors read as a person connecting needs them
    (a refused login, an unreachable URL) rather than as a lost credential."""

    http: httpx.AsyncClient
    username: str
    password: str = field(repr=False)
    timeout: float
    retry: RetryPolicy = FAST
    connecting: bool = False

    async def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        content_type: str = XML_TYPE,
        depth: str | None = None,
        headers: Mapping[str, str] | None = None,
        calendar_id: str | None = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """Send with retries; a status in `accept` is returned as is (the caller decides:
        412 on a conditional PUT, 404 on a delete), any other non-2xx raises."""
        sent_headers = dict(headers or {})
        if body is not None:
            sent_headers["Content-Type"] = content_type
        if depth is not None:
            sent_headers["Depth"] = depth

        async def attempt() -> httpx.Response:
            try:
                response = await self.http.request(
                    method,
                    url,
                    content=body,
                    headers=sent_headers,
                    auth=httpx.BasicAuth(self.username, self.password),
                    timeout=self.timeout,
                    follow_redirects=True,
                )
            except httpx.TransportError as exc:
                raise transport_error(exc, connecting=self.connecting) from None
            except ProviderError:
                raise  # AddressNotAllowed from the checked transport (C46)
            if response.status_code in accept or 200 <= response.status_code < 300:
                return response
            raise status_error(response, calendar_id=calendar_id, connecting=self.connecting)

        return await with_retries(attempt, self.retry)
