"""The dashboards' filters: the period and the team, read from the query string so a filtered
page (and its CSV) is a link anyone can share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from core.widgets import DateInput
from insights.selectors.shared import Period, team_choices

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
PRESETS = [30, 90, 180, 365]
# The dashboards cover the product's lifetime: the figures step a day, a month or a year past a
# period's ends, which at year 1 or 9999 leaves the calendar (an OverflowError, a 500).
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


@dataclass(frozen=True)
class Filters:
    period: Period
    team: int | None

    def query(self, **extra: Any) -> str:
        """The filters as a query string (with `extra` parameters), for links and CSV exports."""
        params: dict[str, Any] = {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()}
        if self.team is not None:
            params["team"] = self.team
        params.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(params)

    def preset(self, days: int) -> str:
        period = Period.last_days(days)
        return Filters(period=period, team=self.team).query()


class FilterForm(forms.Form):
    start = forms.DateField(required=False, widget=DateInput, label="From")
    end = forms.DateField(required=False, widget=DateInput, label="To")
    team = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Team")

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # Only the filter parameters bind the form: ?format=csv&table=... are not filters.
        if data is not None:
            data = {k: data.get(k) for k in ("start", "end", "team") if data.get(k) not in (None, "")}
        super().__init__(data, **kwargs)
        self.fields["team"].choices = [("", "Everyone"), *team_choices()]  # type: ignore[attr-defined]

    def _clean_day(self, name: str) -> date | None:
        day = self.cleaned_data.get(name)
        label = self.fields[name].label
        if day is not None and day < EARLIEST:
            raise forms.ValidationError(f"{label} must be on or after {EARLIEST.isoformat()}.", code="min_value")
        if day is not None and day > LATEST:
            raise forms.ValidationError(f"{label} must be on or before {LATEST.isoformat()}.", code="max_value")
        return day

    def clean_start(self) -> date | None:
        return self._clean_day("start")

    def clean_end(self) -> date | None:
        return self._clean_day("end")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "start" in self.errors or "end" in self.errors:
            return data
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            self.add_error("start", "The period must start before it ends.")
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("start", "Choose a period of at most three years.")
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> Filters:
        """The filters asked for, or the default (the last 90 days, everyone) when they are invalid."""
        if self.is_bound and self.is_valid():
            data = self.cleaned_data
            return Filters(period=Period(start=data["start"], end=data["end"]), team=data["team"])
        return Filters(period=Period.last_days(DEFAULT_DAYS), team=None)


def filters_from(query: Any) -> tuple[FilterForm, Filters]:
    form = FilterForm(query)
    return form, form.filters()
