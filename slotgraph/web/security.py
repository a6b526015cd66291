"""What every contact page sends and checks: a strict Content-Security-Policy with a fresh
nonce (no inline script without it, every asset from this origin), never framed except an
embed by the origins its page allows (`frame-ancestors`), never cached (`private, no-store`:
slots and bookings change, and no shared cache may keep one visitor's page for another),
`noindex` where the domain keeps meeting pages out of search engines (S15),
`Referrer-Policy: no-referrer` where a manage token is in the URL (C41), and cross-site form
posts refused.

Form posts use a signed double-submit token: a random cookie, and in each form an HMAC of it
under the app's secret. A cross-site page can make the browser send the cookie but cannot read
it to compute the field. Hand-rolled because it is a dozen lines over `hmac`; the same signer
seals the confirmation's values into its redirect URL, so they cannot be forged.

An embed lives in another site's iframe, where browsers withhold this site's `SameSite=Lax`
cookie (third-party context), so its forms carry a cookie-less token instead: a signed
timestamp (fresh for `EMBED_TOKEN_SECONDS`), accepted only with an `Origin` header naming this
very host, which a cross-site form post cannot forge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

CSRF_COOKIE = "sg_csrf"
CSRF_FIELD = "csrf_token"
EMBED_TOKEN_PREFIX = "e."  # noqa: S105 (marks the token kind, not a secret)
EMBED_TOKEN_SECONDS = 4 * 3600


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


def form_token(signer: Signer, cookie: str, *, embed: bool) -> str:
    """The value of a form's CSRF field: bound to the cookie, or in an embed to the time."""
    if not embed:
        return signer.sign(cookie)
    stamp = str(int(time.time()))
    return f"{EMBED_TOKEN_PREFIX}{stamp}.{signer.sign('embed:' + stamp)}"


def same_origin_post(request: Request) -> bool:
    """The browser says the form was sent from a page of this very host."""
    origin = request.headers.get("origin", "")
    return (
        bool(origin) and urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    )


def csrf_valid(signer: Signer, request: Request, sent: str, *, embed: bool = False) -> bool:
    if embed and sent.startswith(EMBED_TOKEN_PREFIX):
        stamp, _, signature = sent.removeprefix(EMBED_TOKEN_PREFIX).partition(".")
        fresh = stamp.isdigit() and 0 <= time.time() - int(stamp) <= EMBED_TOKEN_SECONDS
        return fresh and signer.verify("embed:" + stamp, signature) and same_origin_post(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and bool(sent) and signer.verify(cookie, sent)


# C34: the bot check's widget (a script that draws an iframe) is the one third-party asset,
# admitted only on the pages of hosts who ask for it. Keys: the API's BotCheckVerifier.
BOT_CHECK_SCRIPTS = {
    "TURNSTILE": "https://challenges.cloudflare.com/turnstile/v0/api.js",
    "HCAPTCHA": "https://js.hcaptcha.com/1/api.js",
}
BOT_CHECK_SOURCES = {
    "TURNSTILE": ("https://challenges.cloudflare.com",),
    "HCAPTCHA": ("https://hcaptcha.com", "https://*.hcaptcha.com"),
}
BOT_CHECK_FIELDS = ("cf-turnstile-response", "h-captcha-response")  # what the widgets post


def content_security_policy(
    nonce: str, frame_ancestors: tuple[str, ...] = (), bot_check: str | None = None
) -> str:
    """`frame_ancestors` empty: no site may frame the page (`'none'`)."""
    extra = " ".join(BOT_CHECK_SOURCES.get(bot_check or "", ()))
    return "; ".join(
        part.strip()
        for part in (
            "default-src 'none'",
            f"script-src 'nonce-{nonce}' {extra}",
            f"style-src 'self' {extra}",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {extra}",
            *((f"frame-src {extra}",) if extra else ()),
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors " + (" ".join(frame_ancestors) or "'none'"),
        )
    )


def secure(
    response: Response,
    request: Request,
    nonce: str,
    *,
    carries_manage_token: bool = False,
    new_csrf: str | None = None,
    frame_ancestors: tuple[str, ...] = (),
    indexable: bool = False,
    bot_check: str | None = None,
) -> Response:
    """Add the headers every contact page carries; set the CSRF cookie when new."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(nonce, frame_ancestors, bot_check)
    headers["X-Content-Type-Options"] = "nosniff"
    # Slots and bookings are per visitor and change: never stored by any cache.
    headers["Cache-Control"] = "private, no-store"
    if not indexable:
        headers["X-Robots-Tag"] = "noindex, nofollow"
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
