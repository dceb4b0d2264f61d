"""The forms on a touchpoint row in "My week": the outcome, skip / cancel with a reason, and a
new due time. Each row carries its own forms, so their ids carry the touchpoint's pk (the
field names stay plain, the same names the services and the API use)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone

from core import text
from core.widgets import DateTimeInput, Textarea
from delivery.models import Problem
from touchpoints.models import Kind
from touchpoints.services import TEXT_LIMIT

SCORES = [(str(n), str(n)) for n in range(1, 6)]
YES_NO = [("yes", "Yes"), ("no", "No")]


def row_auto_id(pk: int, form: str) -> str:
    return f"tp{pk}_{form}_%s"


class OutcomeForm(forms.Form):
    satisfaction = forms.TypedChoiceField(
        label="Customer satisfaction", choices=SCORES, coerce=int, widget=forms.RadioSelect,
        help_text="1 = very unhappy, 5 = very happy",
        error_messages={"required": "Choose a satisfaction score from 1 to 5.",
                        "invalid_choice": "Choose a satisfaction score from 1 to 5."},
    )
    as_expected = forms.TypedChoiceField(
        label="Was everything as the customer expected?", choices=YES_NO, coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": "Say whether everything was as the customer expected.",
                        "invalid_choice": "Say whether everything was as the customer expected."},
    )
    notes = text.MultiLineFormField(
        required=False, max_length=TEXT_LIMIT, widget=Textarea(attrs={"rows": 3}),
        help_text="What was said, what the customer worries about.",
    )
    follow_up_at = forms.DateTimeField(label="Follow up on", required=False, widget=DateTimeInput,
                                       help_text="Optional: schedules a follow-up check-up.")
    follow_up_title = text.SingleLineFormField(label="Follow-up about", required=False, max_length=200)
    problem_title = text.SingleLineFormField(label="Problem to raise", required=False, max_length=200,
                                    help_text="Optional: opens a problem on the account.")
    problem_severity = forms.ChoiceField(
        label="Severity", choices=Problem.Severity.choices, initial=Problem.Severity.MEDIUM, required=False,
        error_messages={"invalid_choice": "Choose low, medium, high or critical."},
    )

    def __init__(self, *args: Any, kind: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kind == Kind.THANK_YOU:
            # A thank-you note asks the customer nothing: a score is not demanded.
            field = self.fields["satisfaction"]
            field.required = False
            field.label = "Customer satisfaction (optional)"
            cast(forms.TypedChoiceField, field).empty_value = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("follow_up_title") and not data.get("follow_up_at") and "follow_up_at" not in self.errors:
            self.add_error("follow_up_at", "Choose when to follow up.")
        return data

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "satisfaction": data["satisfaction"],
            "as_expected": data["as_expected"],
            "notes": data["notes"],
            "follow_up_at": data["follow_up_at"],
            "follow_up_title": data["follow_up_title"],
            "problem_title": data["problem_title"],
            "problem_severity": data["problem_severity"] or Problem.Severity.MEDIUM,
        }


class ReasonForm(forms.Form):
    reason = text.MultiLineFormField(
        max_length=2000, widget=Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why."},
    )

    def __init__(self, *args: Any, label: str = "Why?", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = label


class RescheduleForm(forms.Form):
    due_at = forms.DateTimeField(
        label="New due time", widget=DateTimeInput,
        error_messages={"required": "Enter a date and time.", "invalid": "Enter a date and time."},
    )

    def clean_due_at(self) -> Any:
        value = self.cleaned_data["due_at"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Choose a time in the future.")
        return value
