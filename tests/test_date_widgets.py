"""The date, time and datetime-local inputs render and read ISO values whatever the language and
the format settings: <input type="date"> shows a localized value ("29/01/2027") as an empty box
and posts it back empty, which made every edit form erase its dates on Save."""

from __future__ import annotations

import copy
import importlib
import inspect
import zoneinfo
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from django import forms
from django.test import override_settings
from django.utils import timezone, translation

from core.widgets import DateInput, DateTimeInput, TimeInput

# Languages whose own formats are not ISO (29/01/2027, 29.01.2027, 01/29/2027), and settings that
# would make Django's default widgets write them.
LOCALES = ["en-gb", "fr", "de", "en"]
NON_ISO_SETTINGS = {
    "DATE_INPUT_FORMATS": ["%d/%m/%Y"],
    "DATETIME_INPUT_FORMATS": ["%d/%m/%Y %H:%M"],
    "TIME_INPUT_FORMATS": ["%I:%M %p"],
    "DATE_FORMAT": "d/m/Y",
}
FORM_MODULES = ["crm.forms", "handover.forms", "delivery.forms", "touchpoints.forms", "insights.forms"]

DAY = date(2027, 1, 29)
MOMENT = datetime(2027, 1, 29, 8, 30, tzinfo=UTC)


@pytest.fixture(params=LOCALES)
def non_iso_locale(request: pytest.FixtureRequest) -> Any:
    with translation.override(request.param), override_settings(**NON_ISO_SETTINGS):
        yield request.param


def _value(html: str) -> str:
    return html.split('value="', 1)[1].split('"', 1)[0]


def test_the_date_input_renders_an_iso_date_in_every_locale(non_iso_locale: str) -> None:
    assert _value(DateInput().render("due_date", DAY)) == "2027-01-29"


def test_the_time_input_renders_hours_and_minutes_in_every_locale(non_iso_locale: str) -> None:
    assert _value(TimeInput().render("work_starts", time(9, 5))) == "09:05"


def test_the_datetime_input_renders_a_datetime_local_value_in_every_locale(non_iso_locale: str) -> None:
    field = forms.DateTimeField(widget=DateTimeInput)
    with timezone.override(zoneinfo.ZoneInfo("UTC")):
        assert _value(field.widget.render("meeting_at", field.prepare_value(MOMENT))) == "2027-01-29T08:30"


def test_a_datetime_is_shown_and_read_back_in_the_current_zone_without_shifting(non_iso_locale: str) -> None:
    field = forms.DateTimeField(widget=DateTimeInput)
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        shown = _value(field.widget.render("meeting_at", field.prepare_value(MOMENT)))
        assert shown == "2027-01-29T03:30"
        assert field.clean(field.widget.value_from_datadict({"meeting_at": shown}, {}, "meeting_at")) == MOMENT


def test_a_datetime_with_seconds_keeps_them_through_the_input(non_iso_locale: str) -> None:
    field = forms.DateTimeField(widget=DateTimeInput)
    moment = MOMENT.replace(second=45)
    with timezone.override(zoneinfo.ZoneInfo("UTC")):
        shown = _value(field.widget.render("meeting_at", field.prepare_value(moment)))
        assert shown == "2027-01-29T08:30:45"
        assert field.clean(field.widget.value_from_datadict({"meeting_at": shown}, {}, "meeting_at")) == moment


def test_a_time_with_seconds_keeps_them_through_the_input(non_iso_locale: str) -> None:
    shown = _value(TimeInput().render("work_starts", time(9, 5, 30)))
    assert shown == "09:05:30"
    assert forms.TimeField().clean(TimeInput().value_from_datadict({"t": shown}, {}, "t")) == time(9, 5, 30)


def test_the_inputs_read_iso_even_when_the_settings_formats_leave_it_out(non_iso_locale: str) -> None:
    posted = {"d": "2027-01-29", "t": "09:05:30", "dt": "2027-01-29T08:30"}
    with timezone.override(zoneinfo.ZoneInfo("UTC")):
        assert forms.DateField(widget=DateInput).clean(DateInput().value_from_datadict(posted, {}, "d")) == DAY
        assert forms.TimeField(widget=TimeInput).clean(TimeInput().value_from_datadict(posted, {}, "t")) == time(9, 5, 30)
        assert forms.DateTimeField().clean(DateTimeInput().value_from_datadict(posted, {}, "dt")) == MOMENT


def test_what_is_not_an_iso_value_is_refused_by_the_field_with_its_message(non_iso_locale: str) -> None:
    form_class = type("OneDate", (forms.Form,), {"due_date": forms.DateField(widget=DateInput)})
    form = form_class({"due_date": "2027-02-30"})
    assert not form.is_valid()
    assert list(form.errors) == ["due_date"]


def _date_fields() -> list[tuple[str, str, forms.Field]]:
    found = []
    for module_name in FORM_MODULES:
        module = importlib.import_module(module_name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, forms.BaseForm) or cls.__module__ != module_name:
                continue
            for field_name, field in cls.base_fields.items():
                if isinstance(field, forms.DateField | forms.TimeField | forms.DateTimeField):
                    found.append((f"{name}.{field_name}", module_name, field))
    return found


DATE_FIELDS = _date_fields()
SAMPLES: dict[type, Any] = {forms.DateTimeField: MOMENT, forms.DateField: DAY, forms.TimeField: time(9, 5)}


def test_the_product_has_date_fields_to_check() -> None:
    # A guard for the test below: were the walk to find nothing, it would pass without checking.
    names = {name for name, _module, _field in DATE_FIELDS}
    assert {"DealForm.expected_close_date", "ContactForm.left_at", "PromiseForm.due_date", "ResetForm.agreed_on",
            "StageEditForm.due_date", "HandoverForm.meeting_at", "RescheduleForm.due_at", "FilterForm.start",
            "ProfileForm.work_starts"} <= names


@pytest.mark.parametrize(("name", "module", "field"), DATE_FIELDS, ids=[n for n, _m, _f in DATE_FIELDS])
def test_every_date_field_of_the_product_round_trips_through_its_input(
    non_iso_locale: str, name: str, module: str, field: forms.Field
) -> None:
    """Every date, time and datetime field on a form uses one of the ISO inputs, and what it
    renders reads back as the same value: a new form with Django's default widget fails here."""
    assert type(field.widget) in (DateInput, TimeInput, DateTimeInput), f"{name} uses {type(field.widget).__name__}"
    sample = next(value for kind, value in SAMPLES.items() if isinstance(field, kind))
    form_class = type("OneField", (forms.Form,), {"when": copy.deepcopy(field)})
    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        shown = _value(str(form_class(initial={"when": sample})["when"]))
        posted = form_class({"when": shown})
        assert posted.is_valid(), f"{name} rendered {shown!r}: {posted.errors}"
        assert posted.cleaned_data["when"] == sample, f"{name} rendered {shown!r}"
