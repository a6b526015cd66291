"""The booking emails' words (C21, C19): Jinja templates, plain text and HTML, in English
and Japanese, with their own gettext domain `emails` (the pages have `pages`), so the two
catalogs never share a msgid by accident. `.po` files beside this module, compiled in memory
with Babel when first used, as the pages' catalog is (`slotgraph.web.locale`).

`render_letter(letter, language, ...)` returns a `Letter`; `Letter.message` is the MIME message:
multipart/alternative text and HTML, plus the iCalendar object when one is given, both as an
alternative part (`text/calendar; method=...`, which mail clients show as an invitation) and
as an `invite.ics` attachment."""

from __future__ import annotations

import email.utils
import functools
import gettext
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.dates import format_time
from jinja2 import Environment
from jinja2 import PackageLoader
from jinja2 import select_autoescape

from slotgraph.catalogs import compiled_catalog

if TYPE_CHECKING:
    import datetime as dt

LANGUAGES = ("en", "ja")
DOMAIN = "emails"
CATALOGS = Path(__file__).parent / "locales"
# The subject of each template (msgids of the `emails` domain); {title} is the meeting's.
SUBJECTS = {
    "created": "Confirmed: {title}",
    "requested": "Request received: {title}",
    "request_confirmed": "Confirmed: {title}",
    "declined": "Declined: {title}",
    "rescheduled": "Rescheduled: {title}",
    "cancelled": "Cancelled: {title}",
    "host_request": "New request to confirm: {title}",
}

_ENVIRONMENT = Environment(
    loader=PackageLoader("slotgraph.jobs.email_templates", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=False, default=False),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def language_of(tag: str | None) -> str | None:
    """The supported language of a BCP 47 tag (`ja-JP` → `ja`), else None."""
    primary = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled `emails` catalog of `language`; English is the msgids themselves."""
    return compiled_catalog(CATALOGS / language / "LC_MESSAGES" / f"{DOMAIN}.po", language, DOMAIN)


@dataclass(frozen=True, slots=True)
class Letter:
    to: str
    subject: str
    text: str
    html: str
    language: str
    ics: bytes | None = None
    method: str | None = None

    def message(self, sender: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = email.utils.make_msgid(domain="slotgraph")
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        if self.ics is not None and self.method is not None:
            params = {"method": self.method}
            message.add_alternative(
                self.ics, maintype="text", subtype="calendar", params=params, cte="base64"
            )
            message.make_mixed()
            message.add_attachment(
                self.ics,
                maintype="application",
                subtype="ics",
                filename="invite.ics",
            )
        message["Content-Language"] = self.language  # after set_content, which drops Content-*
        return message


def _when(language: str, moment: dt.datetime, zone: str) -> str:
    """As the pages write a moment (C19): the full date, the short time, the zone named."""
    local = moment.astimezone(ZoneInfo(zone))
    day = format_date(local.date(), "full", locale=language)
    time = format_time(local, "short", tzinfo=local.tzinfo, locale=language)
    return f"{day} {time} ({zone})"


def render_letter(letter: str, language: str, *, to: str, booking: Any, **values: Any) -> Letter:
    """The letter `letter` (a key of SUBJECTS) in `language`: the host's request from the
    template pair `host.txt`, `host.html`, every other from `contact.*`."""
    catalog = translations(language)
    host_zone = values["host_zone"]
    shown = {
        "_": catalog.gettext,
        "gettext": catalog.gettext,
        "ngettext": catalog.ngettext,
        "lang": language,
        "kind": letter,
        "title": booking.title,
        "when": _when(language, booking.starts_at, booking.time_zone),
        "when_host": _when(language, booking.starts_at, host_zone),
        "minutes": int((booking.ends_at - booking.starts_at).total_seconds() // 60),
        **values,
    }
    # The lead is rendered as text, then escaped as any value in the HTML part.
    shown["lead"] = _ENVIRONMENT.get_template("_lead.txt").render(shown).strip()
    template = "host" if letter == "host_request" else "contact"
    text = _ENVIRONMENT.get_template(f"{template}.txt").render(shown)
    html = _ENVIRONMENT.get_template(f"{template}.html").render(shown)
    subject = catalog.gettext(SUBJECTS[letter]).format(title=booking.title)
    return Letter(
        to=to,
        subject=subject,
        text=text,
        html=html,
        language=language,
        ics=values.get("ics"),
        method=str(values["method"]) if values.get("method") else None,
    )
