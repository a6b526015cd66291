"""Inputs of the scheduling-page mutations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from slotgraph.graph.types.pages import FormFieldKind
from slotgraph.graph.types.pages import Weekday
from slotgraph.scheduling import forms
from slotgraph.scheduling import rules
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.pages import PageDraft

MAX_WEEKLY_HOURS = 56
MAX_OVERRIDES = 366


@strawberry.input(description="Bookable hours on one weekday, e.g. MONDAY 09:00–17:00.")
class WeeklyHoursInput:
    weekday: Weekday  # type: ignore[valid-type]
    start: str
    end: str


@strawberry.input(description="Hours on one date instead of the weekly hours; [] = day off.")
class DateOverrideInput:
    date: dt.date
    intervals: list[list[str]]


@strawberry.input(
    description="A question of the booking form; name and email are always asked. Answers "
    "are stored under `key`, so keep it stable when the label changes."
)
class FormFieldInput:
    key: str = strawberry.field(description="1 to 40 of a-z, 0-9, '-', '_'; unique per page.")
    label: str
    kind: FormFieldKind  # type: ignore[valid-type]
    required: bool = False
    options: list[str] | None = strawberry.field(
        default=None, description="The choices of a SINGLE_CHOICE field (2 to 20)."
    )

    def to_field(self) -> forms.FormField:
        return forms.FormField(
            key=self.key,
            label=self.label,
            kind=forms.FieldKind(self.kind),
            required=self.required,
            options=tuple(self.options or ()),
        )


@strawberry.input
class PageFieldsInput:
    """Fields shared by create and update; omitted fields keep their value (or default)."""

    title: str | None = strawberry.UNSET
    name: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The last segment of the link, after the prefix; from the title if omitted.",
    )
    description: str | None = strawberry.UNSET
    durations: list[int] | None = strawberry.UNSET
    slot_interval: int | None = strawberry.UNSET
    buffer_before: int | None = strawberry.UNSET
    buffer_after: int | None = strawberry.UNSET
    minimum_notice: int | None = strawberry.UNSET
    booking_window_days: int | None = strawberry.UNSET
    max_meetings_per_day: int | None = strawberry.UNSET
    time_zone: str | None = strawberry.UNSET
    weekly_hours: list[WeeklyHoursInput] | None = strawberry.UNSET
    date_overrides: list[DateOverrideInput] | None = strawberry.UNSET
    form_fields: list[FormFieldInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The booking form's questions, in order (at most 20); [] removes them.",
    )

    def to_draft(self) -> PageDraft:
        values: dict[str, Any] = {}
        required = (
            "title",
            "name",
            "description",
            "durations",
            "slot_interval",
            "buffer_before",
            "buffer_after",
            "minimum_notice",
            "booking_window_days",
        )
        for name in required:
            value = getattr(self, name)
            if value is strawberry.UNSET:
                continue
            if value is None:
                raise InvalidInput("Omit the field instead of sending null.", field=_camel(name))
            values[name] = value
        for name in ("max_meetings_per_day", "time_zone"):
            value = getattr(self, name)
            if value is not strawberry.UNSET:
                values[name] = value
        if self.weekly_hours is not strawberry.UNSET:
            values["weekly_hours"] = _weekly_hours(self.weekly_hours or [])
        if self.date_overrides is not strawberry.UNSET:
            values["date_overrides"] = _overrides(self.date_overrides or [])
        if self.form_fields is not strawberry.UNSET:
            values["form_fields"] = [item.to_field() for item in self.form_fields or []]
        return PageDraft(**values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _weekly_hours(items: list[WeeklyHoursInput]) -> list[rules.WeeklyHours]:
    if len(items) > MAX_WEEKLY_HOURS:
        raise InvalidInput(f"At most {MAX_WEEKLY_HOURS} weekly intervals.", field="weeklyHours")
    try:
        return [
            rules.WeeklyHours(
                weekday=rules.Weekday(item.weekday),
                start=rules.parse_hhmm("weeklyHours", item.start),
                end=rules.parse_hhmm("weeklyHours", item.end),
            )
            for item in items
        ]
    except rules.RuleError as exc:
        raise InvalidInput(exc.message, field=exc.field) from None


def _overrides(items: list[DateOverrideInput]) -> list[rules.DateOverride]:
    if len(items) > MAX_OVERRIDES:
        raise InvalidInput(f"At most {MAX_OVERRIDES} date overrides.", field="dateOverrides")
    overrides = []
    try:
        for item in items:
            intervals = []
            for pair in item.intervals[:8]:
                if len(pair) != 2:
                    raise rules.RuleError("dateOverrides", "each interval is [start, end]")
                intervals.append(
                    (
                        rules.parse_hhmm("dateOverrides", pair[0]),
                        rules.parse_hhmm("dateOverrides", pair[1]),
                    )
                )
            overrides.append(rules.DateOverride(date=item.date, intervals=tuple(intervals)))
    except rules.RuleError as exc:
        raise InvalidInput(exc.message, field=exc.field) from None
    return overrides


@strawberry.input
class CreateSchedulingPageInput(PageFieldsInput):
    """`title` is required; everything else has a sensible default (30 minutes, Mon–Fri
    09:00–17:00 in the host's time zone)."""


@strawberry.input
class UpdateSchedulingPageInput(PageFieldsInput):
    id: strawberry.ID


@strawberry.input
class DeleteSchedulingPageInput:
    id: strawberry.ID
