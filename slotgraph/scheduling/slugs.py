"""Meeting-link slugs (S14, S15).

A page's public path is `/meetings/<prefix>/<name>`: the prefix is the user's meeting-URL
prefix at the time the page was created, the name is chosen per page. Both are single
lowercase segments of letters, digits and inner hyphens, so every link is readable and
unambiguous on any domain.
"""

from __future__ import annotations

import re
import unicodedata

SEGMENT_MAX = 64
_SEGMENT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


class InvalidSlug(ValueError):
    """A segment that cannot appear in a meeting link; the message says how to fix it."""


def slugify(text: str) -> str:
    """A valid segment derived from free text ("Intro call (30 min)" → "intro-call-30-min")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    segment = _NOT_ALLOWED.sub("-", ascii_text.lower()).strip("-")
    segment = segment[:SEGMENT_MAX].rstrip("-")
    return segment or "meeting"


def validate_segment(value: str) -> str:
    """Return the normalised segment or raise `InvalidSlug` explaining the rule."""
    segment = value.strip().lower()
    if not _SEGMENT.match(segment):
        raise InvalidSlug(
            "use 1 to 64 lowercase letters, digits or hyphens, starting and ending with a "
            f"letter or digit (for example {slugify(value)!r})"
        )
    return segment


def compose(prefix: str, name: str) -> str:
    return f"{prefix}/{name}"


def suggest_free(wanted: str, taken: set[str]) -> str:
    """The first of `wanted-2`, `wanted-3`, ... that is not in `taken` (all lowercase)."""
    for n in range(2, 10_000):
        head = wanted[: SEGMENT_MAX - len(str(n)) - 1].rstrip("-")
        candidate = f"{head}-{n}"
        if candidate not in taken:
            return candidate
    raise RuntimeError("no free slug found")  # pragma: no cover - needs 10,000 pages
