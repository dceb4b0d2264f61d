"""Filters every API list shares: object ids that reveal nothing, and a search whose bad input
is keyed by its parameter like every other 400."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters
from rest_framework.exceptions import ValidationError

from core import text


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An object id. A plain number filter, not a model choice: an id the user cannot see gives
    an empty list, exactly like one that does not exist (no 400 that would reveal it)."""

    field_class = forms.IntegerField

    def filter(self, qs: Any, value: Any) -> Any:
        # Beyond a 64-bit integer no row can match (and SQLite cannot even compare it).
        if value is not None and not -(2**63) <= value < 2**63:
            return qs.none()
        return super().filter(qs, value)


class _TrueOrFalseField(forms.Field):
    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:
        if value in self.empty_values:
            return None
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Enter true or false.", code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class TrueOrFalseFilter(django_filters.BooleanFilter):
    """A yes/no filter whose other values answer 400 naming the parameter (django-filter's own
    reads `perhaps` as "no filter", which hides a client's typo)."""

    field_class = _TrueOrFalseField


class TextFilter(django_filters.CharFilter):
    """A one-line text filter (a list's `q`): control characters, which PostgreSQL cannot
    compare (NUL), answer 400 naming the parameter."""

    field_class = text.SingleLineFormField


class SearchFilter(filters.SearchFilter):
    """DRF's search, with its bad-input error (a NUL character, which PostgreSQL cannot compare)
    keyed by the parameter name like every other 400."""

    def get_search_terms(self, request: Any) -> list[str]:
        try:
            return list(super().get_search_terms(request))
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail}) from None
