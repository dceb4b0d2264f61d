"""The saved views bar's small forms. They parse; saved_views.services writes."""

from __future__ import annotations

from django import forms

from core import text
from saved_views.models import LISTS, NAME_MAX_LENGTH, QUERY_MAX_LENGTH


class SavedViewForm(forms.Form):
    list_name = forms.ChoiceField(choices=list(LISTS.items()), widget=forms.HiddenInput)
    query = forms.CharField(required=False, max_length=QUERY_MAX_LENGTH * 2, widget=forms.HiddenInput)
    name = text.SingleLineFormField(max_length=NAME_MAX_LENGTH, label="Name")
    shared = forms.BooleanField(required=False, label="Share with the team")


class RenameForm(forms.Form):
    name = text.SingleLineFormField(max_length=NAME_MAX_LENGTH, label="New name")
