"""A bot-check verifier on loopback, shaped like Cloudflare Turnstile's and hCaptcha's
siteverify API (C34): POST a form with `secret`, `response` and optionally `remoteip`;
the answer is JSON `{"success": bool, "error-codes": [...]}`. Tokens are issued by the
fake (`issue`, as the widget would in a browser) and good exactly once: the second
verification of a token answers `timeout-or-duplicate`, as Turnstile does. `down = True`
answers 503, as an outage would."""

from __future__ import annotations

import secrets
import threading
from types import TracebackType

from tests.fakes.http import Answer
from tests.fakes.http import LoopbackServer
from tests.fakes.http import Request

SECRET = "0x4AAAAAAAfake-secret"
SITE_KEY = "0x4AAAAAAAfake-site-key"
PATH = "/turnstile/v0/siteverify"


class FakeVerifier:
    def __init__(self) -> None:
        self._server = LoopbackServer(self._answer)
        self._lock = threading.Lock()
        self._issued: set[str] = set()
        self._spent: set[str] = set()
        self.down = False
        self.calls: list[dict[str, str]] = []

    @property
    def verify_url(self) -> str:
        return self._server.base_url + PATH

    def issue(self) -> str:
        """A fresh token, as the widget hands one to a browser that passed the challenge."""
        token = "XXXX.DUMMY.TOKEN." + secrets.token_urlsafe(16)
        with self._lock:
            self._issued.add(token)
        return token

    def _answer(self, request: Request) -> Answer:
        if request.method != "POST" or request.path != PATH:
            return Answer(404, {"success": False, "error-codes": ["bad-request"]})
        form = request.form()
        with self._lock:
            self.calls.append(form)
            if self.down:
                return Answer(503, b"upstream unavailable")
            if form.get("secret") != SECRET:
                return Answer(200, {"success": False, "error-codes": ["invalid-input-secret"]})
            token = form.get("response", "")
            if not token:
                return Answer(200, {"success": False, "error-codes": ["missing-input-response"]})
            if token in self._spent:
                return Answer(200, {"success": False, "error-codes": ["timeout-or-duplicate"]})
            if token not in self._issued:
                return Answer(200, {"success": False, "error-codes": ["invalid-input-response"]})
            self._issued.discard(token)
            self._spent.add(token)
        return Answer(200, {"success": True, "error-codes": [], "hostname": "localhost"})

    def __enter__(self) -> FakeVerifier:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()
