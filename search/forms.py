from __future__ import annotations

from typing import Any

from django import forms

from core import search as terms
from search.selectors import KIND_KEYS


class SearchForm(forms.Form):
    """The query as the header box, the results page and the API read it."""

    q = forms.CharField(required=False, strip=False, label="Search")
    kind = forms.ChoiceField(required=False, choices=[("", "Everything")] + [(k, k) for k in KIND_KEYS])

    def clean_q(self) -> str:
        return terms.clean_query(self.cleaned_data.get("q"))

    def errors_by_field(self) -> dict[str, list[str]]:
        return {name: [str(e) for e in errors] for name, errors in self.errors.items()}


def read(data: Any) -> tuple[SearchForm, str, str]:
    """The form and, when it is valid, the clean query and kind ("" when it is not)."""
    form = SearchForm(data)
    if not form.is_valid():
        return form, "", ""
    return form, form.cleaned_data["q"], form.cleaned_data["kind"]

