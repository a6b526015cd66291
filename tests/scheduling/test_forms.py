"""Booking form answers against a page's fields (`slotgraph.scheduling.forms`), pure."""

from __future__ import annotations

import pytest

from slotgraph.scheduling.forms import FieldKind
from slotgraph.scheduling.forms import FormField
from slotgraph.scheduling.forms import accepts
from slotgraph.scheduling.forms import check_answers
from slotgraph.scheduling.rules import RuleError

NEWSLETTER = FormField("newsletter", "Send me news", FieldKind.CHECKBOX)
PHONE = FormField("phone", "Phone", FieldKind.PHONE, required=True)
SIZE = FormField("size", "Size", FieldKind.SINGLE_CHOICE, options=("S", "M"))


def test_answers_are_stored_trimmed_with_blank_optional_ones_left_out() -> None:
    answers = {"newsletter": "false", "phone": " +44 (20) 7946-0000 ", "size": "  "}
    assert check_answers([NEWSLETTER, PHONE, SIZE], answers) == {
        "newsletter": "false",  # an optional tick may be left unticked
        "phone": "+44 (20) 7946-0000",
    }


@pytest.mark.parametrize("phone", ["+1", "--- ---", "555 1234 ext 9", "1" * 41])
def test_a_phone_needs_digits_and_phone_punctuation_only(phone: str) -> None:
    with pytest.raises(RuleError) as raised:
        check_answers([PHONE], {"phone": phone})
    assert raised.value.field == "answers.phone"


def test_prefill_accepts_only_what_the_field_would_take_now() -> None:
    assert accepts(SIZE, "M")
    assert not accepts(SIZE, "XL")
    assert not accepts(SIZE, " ")
    assert accepts(NEWSLETTER, "true")
    assert not accepts(NEWSLETTER, "yes")
