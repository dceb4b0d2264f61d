"""The API's text fields: the same single-line and multi-line rules as the forms (core.text)."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from core import text


class _TextField(serializers.CharField):
    validator: text.ControlCharacterValidator

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        kept = text.without_django_null_check(self.validators)
        # A ModelSerializer passes the model field's validators, which already hold this one.
        self.validators = kept if self.validator in kept else [*kept, self.validator]

    def run_validators(self, value: Any) -> None:
        try:
            super().run_validators(value)
        except serializers.ValidationError as exc:
            # The refusal names the field, as in the forms (core.text.named).
            details: list[Any] = exc.detail if isinstance(exc.detail, list) else [exc.detail]
            raise serializers.ValidationError([self._named(detail) for detail in details]) from None

    def _named(self, detail: Any) -> Any:
        if isinstance(detail, ErrorDetail) and detail.code == text.ControlCharacterValidator.code and self.label:
            return ErrorDetail(str(detail).replace("This field", str(self.label), 1), code=detail.code)
        return detail


class SingleLineSerializerField(_TextField):
    """Whitespace runs (CR, LF, tab...) folded to one space; control characters refused."""

    validator = text.validate_single_line

    def to_internal_value(self, data: Any) -> str:
        return text.as_single_line(super().to_internal_value(data))


class MultiLineSerializerField(_TextField):
    """Line breaks kept as LF; other control characters refused."""

    validator = text.validate_multi_line

    def to_internal_value(self, data: Any) -> str:
        return text.as_multi_line(super().to_internal_value(data))


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with the product's text fields for CharField and TextField, which
    every model serializer of the API derives from."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: SingleLineSerializerField,
        models.TextField: MultiLineSerializerField,
    }
