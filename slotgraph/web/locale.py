"""Which language a page speaks (C19) and its gettext catalog.

Order: an explicit `?lang=`, then `Accept-Language` (by quality), then the host's locale, then
English. The catalogs are `.po` files beside this module (`slotgraph.catalogs` compiles
them)."""

from __future__ import annotations

import functools
import gettext
from pathlib import Path

from slotgraph.catalogs import compiled_catalog

LANGUAGES = ("en", "ja")
DEFAULT = "en"
DOMAIN = "pages"
CATALOGS = Path(__file__).parent / "locales"


def _primary(tag: str) -> str:
    return tag.strip().replace("_", "-").split("-")[0].lower()


def _accepted(header: str) -> list[str]:
    """The primary tags of an Accept-Language header, best first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:
            ranked.append((-quality, index, _primary(tag)))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(explicit: str | None, accept_language: str | None, host_locale: str | None) -> str:
    """The page language (C19): `?lang=`, then Accept-Language, then the host's locale."""
    candidates = [explicit or "", *_accepted(accept_language or ""), host_locale or ""]
    for candidate in candidates:
        if _primary(candidate) in LANGUAGES:
            return _primary(candidate)
    return DEFAULT


def catalog_path(language: str) -> Path:
    return CATALOGS / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language`; English is the msgids themselves."""
    if language == DEFAULT:
        return gettext.NullTranslations()
    return compiled_catalog(catalog_path(language), language, DOMAIN)
