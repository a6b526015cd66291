"""A scheduling page's booking form: the questions a page asks and the answers it accepts.

Name and email are always asked and are not form fields. A page adds up to `MAX_FIELDS`
questions, each with a stable slug-like `key` (answers are stored under it, so a label can
change without orphaning earlier answers). Everything here is pure and raises
`RuleError(field, message)`, or `RuleErrors` with every problem of a form at once; `field`
names the offending item as `formFields.<index>.<attr>` for definitions and
`answers.<key>` for answers.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slotgraph.scheduling.rules import Problems
from slotgraph.scheduling.rules import RuleError

MAX_FIELDS = 20
MAX_OPTIONS = 20
MAX_LABEL = 200
MAX_OPTION = 100
KEY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
RESERVED_KEYS = frozenset({"name", "email"})
PHONE = re.compile(r"^\+?[0-9 ().-]{3,40}$")
MAX_ANSWER = {"SHORT_TEXT": 200, "LONG_TEXT": 2_000}
CHECKBOX_VALUES = ("true", "false")


class FieldKind(enum.StrEnum):
    """What a scheduling form needs: a line, a paragraph, a phone number, one choice among
    options, a yes/no tick (answered "true" or "false"; a required one must be ticked)."""

    SHORT_TEXT = "SHORT_TEXT"
    LONG_TEXT = "LONG_TEXT"
    PHONE = "PHONE"
    SINGLE_CHOICE = "SINGLE_CHOICE"
    CHECKBOX = "CHECKBOX"


@dataclass(frozen=True, slots=True)
class FormField:
    """One question of a page's form, kept in the page's `form_fields` JSON (`to_json`,
    `from_json`); `options` are the choices of a SINGLE_CHOICE field, empty otherwise."""

    key: str
    label: str
    kind: FieldKind
    required: bool = False
    options: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "kind": self.kind.value,
            "required": self.required,
            "options": list(self.options),
        }

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> FormField:
        return cls(
            key=row["key"],
            label=row["label"],
            kind=FieldKind(row["kind"]),
            required=row["required"],
            options=tuple(row["options"]),
        )


def check_fields(fields: Sequence[FormField]) -> list[FormField]:
    """The page's questions, labels and options trimmed; raises on every bad item at once
    (`RuleErrors`)."""
    if len(fields) > MAX_FIELDS:
        raise RuleError("formFields", f"at most {MAX_FIELDS} form fields")
    problems = Problems()
    seen: set[str] = set()
    checked = []
    for index, item in enumerate(fields):
        at = f"formFields.{index}"
        if not KEY.match(item.key):
            problems.add(
                f"{at}.key",
                f"{item.key[:50]!r} is not a key; use 1 to 40 lowercase letters, digits, "
                "'-' or '_', starting with a letter, e.g. 'company'",
            )
        elif item.key in RESERVED_KEYS:
            problems.add(
                f"{at}.key", "name and email are always asked; leave them out of the form fields"
            )
        elif item.key in seen:
            problems.add(f"{at}.key", f"the key {item.key!r} is used twice; keys are unique")
        seen.add(item.key)
        label = item.label.strip()
        if not 1 <= len(label) <= MAX_LABEL:
            problems.add(f"{at}.label", f"give a label of 1 to {MAX_LABEL} characters")
        options = tuple(option.strip() for option in item.options)
        with problems.field():
            _check_options(at, item.kind, options)
        checked.append(FormField(item.key, label, item.kind, item.required, options))
    problems.check()
    return checked


def _check_options(at: str, kind: FieldKind, options: tuple[str, ...]) -> None:
    if kind is FieldKind.SINGLE_CHOICE:
        if not 2 <= len(options) <= MAX_OPTIONS:
            raise RuleError(f"{at}.options", f"give 2 to {MAX_OPTIONS} options to choose from")
        if any(not 1 <= len(option) <= MAX_OPTION for option in options):
            raise RuleError(f"{at}.options", f"each option has 1 to {MAX_OPTION} characters")
        if len(set(options)) != len(options):
            raise RuleError(f"{at}.options", "each option appears once")
    elif options:
        raise RuleError(f"{at}.options", "only SINGLE_CHOICE fields take options")


def check_answers(fields: Sequence[FormField], answers: Mapping[str, str]) -> dict[str, str]:
    """The answers to store, trimmed, blank optional ones left out; raises on every unknown
    key, missing required answer and answer its field does not accept, all at once
    (`RuleErrors`)."""
    by_key = {item.key: item for item in fields}
    problems = Problems()
    for key in answers:
        if key not in by_key:
            known = ", ".join(sorted(by_key)) or "none"
            problems.add(
                f"answers.{key}", f"this page has no question {key!r}; its questions: {known}"
            )
    stored: dict[str, str] = {}
    for item in fields:
        answer = answers.get(item.key, "").strip()
        if not answer or (item.kind is FieldKind.CHECKBOX and answer == "false"):
            if item.required:
                fix = "tick it" if item.kind is FieldKind.CHECKBOX else "give an answer"
                problems.add(f"answers.{item.key}", f"'{item.label}' is required; {fix}")
                continue
            if not answer:
                continue
        problem = _problem(item, answer)
        if problem is not None:
            problems.add(f"answers.{item.key}", f"'{item.label}': {problem}")
            continue
        stored[item.key] = answer
    problems.check()
    return stored


def accepts(item: FormField, answer: str) -> bool:
    """Whether `answer` would be accepted for `item` today (S16 prefill offers only those)."""
    answer = answer.strip()
    return bool(answer) and _problem(item, answer) is None


def _problem(item: FormField, answer: str) -> str | None:
    """What is wrong with a non-blank answer, or None."""
    match item.kind:
        case FieldKind.SINGLE_CHOICE:
            if answer not in item.options:
                return "choose one of " + ", ".join(item.options)
        case FieldKind.CHECKBOX:
            if answer not in CHECKBOX_VALUES:
                return "answer true or false"
        case FieldKind.PHONE:
            if not PHONE.match(answer) or sum(c.isdigit() for c in answer) < 3:
                return "give a phone number of digits, spaces and + ( ) . -, e.g. +44 20 7946 0000"
        case FieldKind.SHORT_TEXT | FieldKind.LONG_TEXT:
            limit = MAX_ANSWER[item.kind.value]
            if len(answer) > limit:
                return f"at most {limit:,} characters"
    return None
