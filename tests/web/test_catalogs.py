"""Every string of the contact pages exists in Japanese (C19): each msgid the templates use is
in the Japanese catalog with a translation, and the catalog holds no stale entry."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import slotgraph.web
from slotgraph.web.locale import catalog_path
from slotgraph.web.locale import negotiate
from slotgraph.web.locale import translations

TEMPLATES = Path(slotgraph.web.__file__).parent / "templates"


def template_msgids() -> set[str]:
    options = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
    found = extract_from_dir(
        str(TEMPLATES),
        method_map=[("**.html", "jinja2.ext:babel_extract")],
        options_map={"**.html": options},
    )
    return {str(message) for _, _, message, _, _ in found}


def test_every_msgid_has_a_japanese_translation() -> None:
    with catalog_path("ja").open("rb") as po:
        catalog = read_po(po, locale="ja")
    translated = {str(m.id): str(m.string) for m in catalog if m.id}
    used = template_msgids()
    assert used, "the templates use gettext"
    assert sorted(used - translated.keys()) == []
    assert sorted(k for k in used if not translated[k].strip()) == []
    assert sorted(translated.keys() - used) == []
    assert translations("ja").gettext("Name") == "お名前"


def test_language_order_is_explicit_then_accept_language_then_host() -> None:
    assert negotiate("ja", "en-US", "en") == "ja"
    assert negotiate("xx", "fr;q=1, ja-JP;q=0.8, en;q=0.5", "en") == "ja"
    assert negotiate(None, "en;q=0.2, ja;q=0", "ja-JP") == "en"
    assert negotiate(None, None, "ja-JP") == "ja"
    assert negotiate(None, "de", None) == "en"
