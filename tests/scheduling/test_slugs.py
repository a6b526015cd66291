"""Meeting-link segments (S14, S15)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotgraph.scheduling.slugs import InvalidSlug
from slotgraph.scheduling.slugs import slugify
from slotgraph.scheduling.slugs import suggest_free
from slotgraph.scheduling.slugs import validate_segment


@given(st.text(max_size=300))
def test_slugify_always_gives_a_valid_segment(text: str) -> None:
    assert validate_segment(slugify(text)) == slugify(text)


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Intro call (30 min)", "intro-call-30-min"),
        ("Café Démo", "cafe-demo"),
        ("日本語", "meeting"),
        ("--a--", "a"),
    ],
)
def test_slugify_examples(text: str, slug: str) -> None:
    assert slugify(text) == slug


@pytest.mark.parametrize("bad", ["", "-a", "a-", "a b", "a/b", "A" * 65, "ünï"])
def test_invalid_segments_are_refused_with_an_example(bad: str) -> None:
    with pytest.raises(InvalidSlug, match="for example"):
        validate_segment(bad)


def test_segments_are_lowercased() -> None:
    assert validate_segment(" Sales-Team ") == "sales-team"


@given(st.sets(st.from_regex(r"[a-z]{1,3}(-[0-9]{1,2})?", fullmatch=True), max_size=50))
def test_suggestion_is_free_and_valid(taken: set[str]) -> None:
    suggestion = suggest_free("ab", taken)
    assert suggestion not in taken
    assert validate_segment(suggestion) == suggestion
