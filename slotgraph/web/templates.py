"""The Jinja environment of the contact pages (autoescaped HTML, the i18n extension) and the
Babel formats of dates and times in the page's language (C19).

One environment for the process; the language is per render: `_` and `gettext` are passed
with each render rather than installed on the environment, so concurrent requests in two
languages never share a catalog."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.dates import format_skeleton
from babel.dates import format_time
from babel.dates import get_day_names
from jinja2 import Environment
from jinja2 import PackageLoader
from jinja2 import select_autoescape

from slotgraph.web.locale import translations

ENVIRONMENT = Environment(
    loader=PackageLoader("slotgraph.web", "templates"),
    autoescape=select_autoescape(["html", "xml"], default_for_string=True),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.globals["dt_parse"] = dt.datetime.fromisoformat


class Formats:
    """Dates and times in one language, written by Babel."""

    def __init__(self, language: str) -> None:
        self.language = language

    def month(self, day: dt.date) -> str:
        return format_skeleton("yMMMM", day, locale=self.language)

    def day(self, day: dt.date) -> str:
        return format_date(day, "full", locale=self.language)

    def time(self, moment: dt.datetime, zone: str) -> str:
        return format_time(moment, "short", tzinfo=ZoneInfo(zone), locale=self.language)

    def moment(self, moment: dt.datetime, zone: str) -> str:
        """Date and time of `moment` in `zone`, with the zone named."""
        local = moment.astimezone(ZoneInfo(zone))
        return f"{self.day(local.date())} {self.time(moment, zone)} ({zone})"

    def weekdays(self) -> list[str]:
        """Monday first, abbreviated."""
        names = get_day_names("abbreviated", locale=self.language)
        return [names[index] for index in range(7)]


def render(name: str, language: str, **values: Any) -> str:
    catalog = translations(language)
    return ENVIRONMENT.get_template(name).render(
        _=catalog.gettext,
        gettext=catalog.gettext,
        ngettext=catalog.ngettext,
        lang=language,
        fmt=Formats(language),
        **values,
    )
