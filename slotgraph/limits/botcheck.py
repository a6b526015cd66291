"""The server-side bot check (C34): a host who turns it on (`bot_check_required` in their
calendar settings) gets anonymous bookings only with a token the verifier vouches for.

Cloudflare Turnstile and hCaptcha share one verify API: POST `secret`, `response` (the
token the widget gave the browser) and `remoteip` as a form to the siteverify URL; the
answer is JSON with `success` and `error-codes`. A token is good once: the verifier
refuses it the second time (`timeout-or-duplicate`, `already-seen-response`). Failing
closed: a verifier that cannot be asked (timeout, transport error, 5xx, an answer that is
not the API's JSON, its `internal-error`, or a refused secret, which is the operator's to
fix) refuses the booking with a retryable `BotCheckUnavailableError`, never lets it pass.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from slotgraph.usecases.errors import BotCheckFailedError
from slotgraph.usecases.errors import BotCheckUnavailableError

log = structlog.get_logger("slotgraph.botcheck")
MAX_TOKEN_CHARS = 2_048  # Turnstile documents 2,048 characters as the longest token


class BotCheckVerifier(enum.StrEnum):
    TURNSTILE = "turnstile"
    HCAPTCHA = "hcaptcha"


VERIFY_URLS = {
    BotCheckVerifier.TURNSTILE: "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    BotCheckVerifier.HCAPTCHA: "https://api.hcaptcha.com/siteverify",
}
# Our side's problems: the booking cannot be checked, so it is refused as unavailable.
_OPERATOR_ERRORS = frozenset(
    {"missing-input-secret", "invalid-input-secret", "sitekey-secret-mismatch", "internal-error"}
)
_MISSING = (
    "This page asks for a bot check: complete the challenge on the booking page and send "
    "its token as botCheckToken."
)
_REFUSED = (
    "The bot check was not passed or its token was already used or expired; complete the "
    "challenge again and send the new token as botCheckToken."
)
UNAVAILABLE = "The bot check could not be verified right now; retry in a moment."


@dataclass(frozen=True, slots=True)
class BotCheck:
    """The operator's verifier (`SLOTGRAPH_BOT_CHECK_*`) and the client that calls it."""

    verifier: BotCheckVerifier
    site_key: str
    secret_key: str
    verify_url: str
    http: httpx.AsyncClient
    timeout_seconds: float = 5.0

    async def verify(self, token: str | None, remote_ip: str | None) -> None:
        """Raise unless the verifier accepts `token` now (C34)."""
        if not token or not token.strip():
            raise BotCheckFailedError(_MISSING, field="botCheckToken")
        if len(token) > MAX_TOKEN_CHARS:
            raise BotCheckFailedError(_REFUSED, field="botCheckToken")
        form = {"secret": self.secret_key, "response": token}
        if remote_ip:
            form["remoteip"] = remote_ip
        try:
            answer = await self.http.post(self.verify_url, data=form, timeout=self.timeout_seconds)
        except httpx.HTTPError as exc:
            log.warning("bot check verifier unreachable", error=type(exc).__name__)
            raise BotCheckUnavailableError(UNAVAILABLE) from None
        verdict = _verdict(answer)
        if verdict is None:
            log.warning("bot check verifier answered no verdict", status=answer.status_code)
            raise BotCheckUnavailableError(UNAVAILABLE)
        success, codes = verdict
        if success:
            return
        if codes & _OPERATOR_ERRORS:
            log.error("bot check verifier refused our request", codes=sorted(codes))
            raise BotCheckUnavailableError(UNAVAILABLE)
        raise BotCheckFailedError(_REFUSED, field="botCheckToken")


def _verdict(answer: httpx.Response) -> tuple[bool, frozenset[str]] | None:
    """`success` and `error-codes` of a siteverify answer; None for anything else."""
    if answer.status_code >= 500:
        return None
    try:
        body: Any = answer.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        return None
    codes = body.get("error-codes") or []
    return body["success"], frozenset(str(code) for code in codes if isinstance(code, str))
