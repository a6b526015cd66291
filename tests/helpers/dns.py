"""A loopback name server for domain verification tests (C40): DNS answers nothing on these
machines, so tests publish TXT records here and point `SLOTGRAPH_DNS_NAMESERVERS` at it.

It speaks real DNS over UDP (dnspython builds and parses the messages) from a thread, so it
serves the test's own event loop and `slotgraph serve` processes alike. `publish` and
`withdraw` change the zone; `silent = True` drops every query, as an unreachable server would.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsResponder:
    """TXT records by lowercase name (no trailing dot); anything else is NXDOMAIN."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.silent = False
        self.queries: list[str] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-responder", daemon=True)

    @property
    def address(self) -> str:
        """`ip:port`, as `SLOTGRAPH_DNS_NAMESERVERS` takes it."""
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def publish(self, name: str, value: str) -> None:
        self.records.setdefault(name.lower().rstrip("."), []).append(value)

    def withdraw(self, name: str) -> None:
        self.records.pop(name.lower().rstrip("."), None)

    def _answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append(name)
        values = self.records.get(name)
        if values is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name,
                    60,
                    dns.rdataclass.IN,
                    dns.rdatatype.TXT,
                    [f'"{value}"' for value in values],
                )
            )
        return response.to_wire()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if self.silent:
                continue
            answer = self._answer(wire)
            if answer is not None:
                self._socket.sendto(answer, peer)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


@contextmanager
def dns_responder() -> Iterator[DnsResponder]:
    responder = DnsResponder()
    responder.start()
    try:
        yield responder
    finally:
        responder.stop()
