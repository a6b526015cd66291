"""What every contact page sends and checks: a strict Content-Security-Policy with a fresh
nonce (no inline script without it, every asset from this origin), no caching by shared
caches (slots change), `Referrer-Policy: no-referrer` where a manage token is in the URL
(C41), and cross-site form posts refused.

Form posts use a signed double-submit token: a random cookie, and in each form an HMAC of it
under the app's secret. A cross-site page can make the browser send the cookie but cannot read
it to compute the field. Hand-rolled because it is a dozen lines over `hmac`; the same signer
seals the confirmation's values into its redirect URL, so they cannot be forged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

CSRF_COOKIE = "sg_csrf"
CSRF_FIELD = "csrf_token"


class Signer:
    """HMAC-SHA256 under a key derived from the app's first secret key."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"slotgraph.web:" + secret.encode()).digest()

    def sign(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, value: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(value), signature)

    def seal(self, payload: dict[str, Any]) -> str:
        """`payload` as URL-safe text that `unseal` accepts only unchanged."""
        raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        body = raw.decode().rstrip("=")
        return f"{body}.{self.sign(body)}"

    def unseal(self, sealed: str) -> dict[str, Any] | None:
        body, _, signature = sealed.partition(".")
        if not body or not self.verify(body, signature):
            return None
        try:
            value = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def csrf_cookie(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie value, or a new one (and True: it must be set)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(current) <= 100:
        return current, False
    return secrets.token_urlsafe(24), True


def csrf_valid(signer: Signer, request: Request, sent: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and bool(sent) and signer.verify(cookie, sent)


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
        )
    )


def secure(
    response: Response,
    request: Request,
    nonce: str,
    *,
    carries_manage_token: bool = False,
    new_csrf: str | None = None,
) -> Response:
    """Add the headers every contact page carries; set the CSRF cookie when new."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(nonce)
    headers["X-Content-Type-Options"] = "nosniff"
    # Slots and forms are per visitor and change: never stored by any cache.
    headers["Cache-Control"] = "no-store"
    headers["Referrer-Policy"] = (
        "no-referrer" if carries_manage_token else "strict-origin-when-cross-origin"
    )
    if new_csrf is not None:
        response.set_cookie(
            CSRF_COOKIE,
            new_csrf,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/meetings",
        )
    return response
