"""A DNS responder on a loopback UDP port for tests (DNS answers nothing on this machine):
it answers the records a test puts in `records` and NXDOMAIN for everything else, so
RFC 6764 discovery runs its real look-ups (dnspython) against it."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from dataclasses import field

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@dataclass
class DnsResponder:
    """`records[(name, type)]`: rdata texts, e.g. `("_caldav._tcp.example.test.", "SRV")`
    → `["0 0 8080 localhost."]`."""

    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    queries: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0
    _sock: socket.socket | None = None

    def start(self) -> DnsResponder:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()

    def _serve(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data, peer = self._sock.recvfrom(4096)
            except OSError:
                return  # closed
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:  # not DNS: ignored, as a server does
                continue
            answer = dns.message.make_response(query)
            answer.flags |= dns.flags.AA
            found = False
            for question in query.question:
                key = (question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype))
                self.queries.append(key)
                texts = self.records.get(key)
                if texts:
                    found = True
                    answer.answer.append(
                        dns.rrset.from_text(question.name, 60, "IN", key[1], *texts)
                    )
            if not found:
                answer.set_rcode(dns.rcode.NXDOMAIN)
            self._sock.sendto(answer.to_wire(), peer)
