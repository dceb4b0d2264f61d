"""Free text as Keepwarm stores it: single-line text (names, titles, subjects, city, phone...)
and multi-line text (notes, descriptions, comments, reasons).

A name pasted from a spreadsheet arrives with a line break or a tab in it; a line break in a
name that reaches an email subject makes the send fail (BadHeaderError), and a NUL byte makes
PostgreSQL refuse the row. So text is made safe where it comes in, once, for every way in:

- single-line text: every run of whitespace (CR, LF, tab, ...) becomes one space, and the ends
  are stripped; any other control character (C0, DEL, C1) and the bidirectional overrides that
  make text read differently from how it is stored are refused;
- multi-line text keeps its line breaks (CR LF and lone CR become LF) and tabs, and refuses the
  other control characters and the bidirectional overrides.

The model fields below carry the rule to the admin and to `full_clean`, and normalise on save;
their form fields carry it to every ModelForm; declared form fields use the form fields here,
and the API uses core.api.fields.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django import forms
from django.core import validators as django_validators
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.deconstruct import deconstructible

# Explicit embedding/override (U+202A-U+202E) and isolate (U+2066-U+2069) controls: "Trojan
# Source" text that displays in a different order than it is stored.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))

# Whitespace a single line folds into one space: Python's whitespace without the C0 information
# separators (U+001C-U+001F), which str.isspace() counts as whitespace but are control characters.
_WHITESPACE_RUN = re.compile(r"[^\S\x1c-\x1f]+")
_MULTI_LINE_KEPT = frozenset("\t\n")


def _is_refused(char: str, *, kept: frozenset[str] = frozenset()) -> bool:
    if char in kept:
        return False
    return unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS


# Invisible characters a paste brings along (a zero-width space from a web page, a byte order
# mark from a spreadsheet's first cell, a word joiner): in a name they make "Acme" and "Acme\u200b"
# two names that look the same, so a single line drops them. Zero-width (non-)joiners stay: some
# scripts and emoji need them.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff]")


def as_single_line(value: str) -> str:
    """The text on one line: whitespace runs (line breaks and tabs included) as one space, and
    the invisible characters a paste brings along dropped."""
    return _WHITESPACE_RUN.sub(" ", _INVISIBLE.sub("", value)).strip()


def as_multi_line(value: str) -> str:
    """The text with LF line breaks only (CR LF and a lone CR become LF), the ends stripped."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _describe(char: str) -> str:
    name = unicodedata.name(char, "") or {"\x00": "NUL", "\x7f": "DEL"}.get(char, "control character")
    return f"U+{ord(char):04X} {name}".strip()


def refused_character(value: str, *, multi_line: bool) -> str | None:
    """The first character this kind of text may not hold, or None."""
    kept = _MULTI_LINE_KEPT if multi_line else frozenset()
    return next((char for char in value if _is_refused(char, kept=kept)), None)


def refusal_message(char: str, *, label: str | None = None) -> str:
    return (
        f"{label or 'This field'} contains an invisible control character ({_describe(char)}), "
        "which cannot be stored. Remove it and try again."
    )


@deconstructible
class ControlCharacterValidator:
    """Refuses control characters (and bidirectional overrides) in text of one kind."""

    code = "control_character"

    def __init__(self, *, multi_line: bool = False) -> None:
        self.multi_line = multi_line

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        # A single line is checked as it will be stored, after its whitespace is folded.
        text = as_multi_line(value) if self.multi_line else as_single_line(value)
        char = refused_character(text, multi_line=self.multi_line)
        if char is not None:
            raise ValidationError(refusal_message(char), code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlCharacterValidator) and other.multi_line == self.multi_line

    def __hash__(self) -> int:
        return hash((type(self), self.multi_line))


validate_single_line = ControlCharacterValidator(multi_line=False)
validate_multi_line = ControlCharacterValidator(multi_line=True)


def clean_text(value: Any, *, label: str, multi_line: bool = False) -> str:
    """The text normalised, for services that take text without a form (the customer pages);
    raises ValidationError naming `label` when it holds a refused character."""
    text = "" if value is None else str(value)
    text = as_multi_line(text) if multi_line else as_single_line(text)
    char = refused_character(text, multi_line=multi_line)
    if char is not None:
        raise ValidationError(refusal_message(char, label=label), code=ControlCharacterValidator.code)
    return text


def clean_text_into(
    errors: dict[str, Any], name: str, value: Any, *, label: str, multi_line: bool = False
) -> str:
    """`clean_text`, recording a refusal in `errors` under `name` (the form field's name)."""
    try:
        return clean_text(value, label=label, multi_line=multi_line)
    except ValidationError as exc:
        errors[name] = exc.messages[0]
        return ""


def without_django_null_check(validators: list[Any]) -> list[Any]:
    # Django and DRF refuse NUL on every CharField with a terse message; ours names the
    # character and says what to do, so one message is shown, not two.
    return [v for v in validators if not isinstance(v, django_validators.ProhibitNullCharactersValidator)]


def named(exc: ValidationError, label: Any) -> ValidationError:
    """The refusal with the field's label in place of "This field", so the message names it
    wherever it is shown (a form's error list, an API's JSON)."""
    if not label:
        return exc
    return ValidationError([
        ValidationError(error.message.replace("This field", str(label), 1), code=error.code)
        if error.code == ControlCharacterValidator.code and isinstance(error.message, str) else error
        for error in exc.error_list
    ])


# --- Form fields ------------------------------------------------------------------------------


class _NamedRefusal(forms.CharField):
    def run_validators(self, value: Any) -> None:
        try:
            super().run_validators(value)
        except ValidationError as exc:
            raise named(exc, self.label) from None


class SingleLineFormField(_NamedRefusal):
    """A one-line text input: whitespace folded to single spaces, control characters refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [*without_django_null_check(self.validators), validate_single_line]

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        return as_single_line(text) if isinstance(text, str) else text


class MultiLineFormField(_NamedRefusal):
    """A textarea: line breaks kept (as LF), other control characters refused."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea)
        super().__init__(**kwargs)
        self.validators = [*without_django_null_check(self.validators), validate_multi_line]

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        return as_multi_line(text) if isinstance(text, str) else text


# --- Model fields -----------------------------------------------------------------------------
#
# Both deconstruct as Django's own CharField and TextField: the column is the same, so the rule
# needs no migration and migrations' historical models keep the plain fields.


class SingleLineCharField(models.CharField):
    default_validators = [validate_single_line]

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # Stored on one line in the first place, whichever code path saves it.
        value = super().pre_save(model_instance, add)
        if isinstance(value, str):
            value = as_single_line(value)
            setattr(model_instance, self.attname, value)
        return value

    # No to_python: Django runs it on lookups too, and a search must not be rewritten.

    def formfield(self, **kwargs: Any) -> Any:  # type: ignore[override]
        if not self.choices:
            kwargs.setdefault("form_class", SingleLineFormField)
        return super().formfield(**kwargs)

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs


class MultiLineTextField(models.TextField):
    default_validators = [validate_multi_line]

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = super().pre_save(model_instance, add)
        if isinstance(value, str):
            value = value.replace("\r\n", "\n").replace("\r", "\n")
            setattr(model_instance, self.attname, value)
        return value

    def formfield(self, **kwargs: Any) -> Any:  # type: ignore[override]
        if not self.choices:
            kwargs.setdefault("form_class", MultiLineFormField)
        return super().formfield(**kwargs)

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.TextField", args, kwargs


def without_control_characters(value: str) -> str:
    """The text with refused characters dropped: for what the customer's browser sends on its
    own (a User-Agent header), which is recorded as given rather than refused."""
    return "".join(char for char in as_single_line(value) if not _is_refused(char))


class SingleLineEmailField(models.EmailField):
    """An email address: Django's check lets bidirectional overrides through in the domain."""

    default_validators = [*models.EmailField.default_validators, validate_single_line]

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.EmailField", args, kwargs


class SingleLineURLField(models.URLField):
    """A web address: Django's check lets bidirectional overrides through in the host."""

    default_validators = [*models.URLField.default_validators, validate_single_line]

    def formfield(self, **kwargs: Any) -> Any:  # type: ignore[override]
        # A web address typed without a scheme is https (Django 6's default), in the admin too.
        kwargs.setdefault("assume_scheme", "https")
        return super().formfield(**kwargs)

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.URLField", args, kwargs
