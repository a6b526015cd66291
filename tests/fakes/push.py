"""How the REST fakes call back: notifications POSTed over real HTTP to the address a
client registered, from a background thread (as providers deliver them, asynchronously and
in order), each delivery recorded with the status the receiver answered."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification as sent: where (with the query), what (headers and JSON body) and
    the receiver's answer."""

    url: str
    headers: dict[str, str]
    body: Any
    status: int | None  # None: the receiver could not be reached


class Notifier:
    """A delivery thread; `send` queues, `send_now` delivers on the caller's thread (Graph's
    validation handshake happens while the subscription request waits)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue[tuple[str, dict[str, str], Any] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def send(self, url: str, headers: dict[str, str], body: Any = None) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put((url, headers, body))

    def send_now(
        self, url: str, headers: dict[str, str], body: Any = None, *, params: Any = None
    ) -> httpx.Response | None:
        """Deliver at once; the answer, or None when the receiver was unreachable."""
        try:
            with httpx.Client(trust_env=False, timeout=10) as client:
                if body is None:
                    response = client.post(url, headers=headers, params=params)
                else:
                    response = client.post(url, headers=headers, json=body, params=params)
        except httpx.HTTPError:
            self._record(Delivery(url, headers, body, None))
            return None
        self._record(Delivery(str(response.request.url), headers, body, response.status_code))
        return response

    def settled(self, timeout: float = 20.0) -> list[Delivery]:
        """Every delivery once the queue is empty (tests wait for the receiver's answers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return list(self.deliveries)
            time.sleep(0.02)
        raise AssertionError("notifications were not delivered in time")

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            url, headers, body = item
            self.send_now(url, headers, body)
            with self._lock:
                self._pending -= 1
