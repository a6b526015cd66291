"""gettext catalogs kept as `.po` files and compiled in memory with Babel when first used, so
there is no build step and no compiled `.mo` to keep in step: the contact pages' `pages`
domain (`slotgraph.web.locale`, which also negotiates the language, C19) and the booking
emails' `emails` domain (`slotgraph.jobs.email_templates`). Below both layers, so each
keeps its own domain without one importing the other."""

from __future__ import annotations

import gettext
import io
from typing import TYPE_CHECKING

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

if TYPE_CHECKING:
    from pathlib import Path


def compiled_catalog(path: Path, language: str, domain: str) -> gettext.NullTranslations:
    """The catalog at `path` compiled; no file (English: the msgids themselves) → null."""
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
