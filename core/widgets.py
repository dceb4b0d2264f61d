"""Form widgets every app's forms use: date and time inputs that speak ISO, a textarea that
reads line breaks as LF."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from django import forms

# The browser's date and time inputs read and write only ISO values, whatever the page's
# language: given en-gb's "29/01/2027", <input type="date"> shows an empty box and posts an empty
# value, so pressing Save erased the date. These widgets therefore write ISO, and read what the
# browser posts as ISO before the field sees it: the fields' own formats come from the locale or
# the settings, which need not include ISO (a TIME_INPUT_FORMATS setting replaces it).
ISO_DATE = "%Y-%m-%d"
ISO_TIME = "%H:%M"
ISO_TIME_SECONDS = "%H:%M:%S"
ISO_DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
ISO_DATETIME_LOCAL_SECONDS = "%Y-%m-%dT%H:%M:%S"


def _read_iso(value: Any, formats: Sequence[str]) -> Any:
    """The posted text as a datetime when it is in one of `formats`; else the text, for the
    field to refuse (or to treat as empty) with its own message."""
    if isinstance(value, str):
        for format in formats:
            try:
                return datetime.strptime(value.strip(), format)  # noqa: DTZ007 (the field applies the zone)
            except ValueError:
                continue
    return value


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None, format: str | None = None) -> None:
        super().__init__(attrs, format=format or ISO_DATE)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = _read_iso(super().value_from_datadict(data, files, name), [ISO_DATE])
        return value.date() if isinstance(value, datetime) else value


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None, format: str | None = None) -> None:
        super().__init__(attrs, format=format or ISO_TIME)

    def format_value(self, value: Any) -> Any:
        if isinstance(value, time) and value.second:
            return value.strftime(ISO_TIME_SECONDS)  # kept, as in DateTimeInput
        return super().format_value(value)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = _read_iso(super().value_from_datadict(data, files, name), [ISO_TIME, ISO_TIME_SECONDS])
        return value.time() if isinstance(value, datetime) else value


class DateTimeInput(forms.DateTimeInput):
    """A datetime-local input. Its value carries no zone: the field shows it in the current time
    zone and reads it back in the same zone: every staff request runs in the user's zone
    (config.middleware.UserTimeZoneMiddleware), the page that shows it and the POST that reads it."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None, format: str | None = None) -> None:
        super().__init__(attrs, format=format or ISO_DATETIME_LOCAL)

    def format_value(self, value: Any) -> Any:
        # A time saved with seconds (through the API) keeps them, or an unchanged Save would move it.
        if isinstance(value, datetime) and value.second:
            return value.strftime(ISO_DATETIME_LOCAL_SECONDS)
        return super().format_value(value)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        # A naive datetime: forms.DateTimeField makes it aware in the current zone.
        posted = super().value_from_datadict(data, files, name)
        return _read_iso(posted, [ISO_DATETIME_LOCAL, ISO_DATETIME_LOCAL_SECONDS])


class Textarea(forms.Textarea):
    """Browsers post a textarea's line breaks as CRLF (HTML's form submission rule), whatever the
    text held; read back as LF, the line breaks stored are the ones shown, and an unchanged Save
    does not rewrite every multi-line text (nor write an event saying it changed)."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = super().value_from_datadict(data, files, name)
        return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value
