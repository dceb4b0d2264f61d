"""Forms for the delivery pages. They parse input; they never save (delivery.services does).

Choices (contacts, promises, projects) come from lists the view loaded once, so a choice that
is not on the list (another account's promise, a contact without the stage's role) is refused
by the form with a message next to the field, before any service runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef

from core import text
from core.widgets import DateInput, Textarea
from crm.forms import FastSelect, PersonChoiceField
from crm.models import Contact
from delivery.models import Problem, Project, Stage
from handover.forms import contact_label
from handover.models import Promise

User = get_user_model()

ANY = [("", "Any")]


def promise_label(promise: Promise) -> str:
    """One promise as a choice: what, on which deal, and who made it (the frozen maker)."""
    maker = promise.made_by.get_full_name() or promise.made_by.get_username()
    text = promise.description if len(promise.description) <= 140 else promise.description[:139] + "…"
    state = "" if promise.state == Promise.State.ACTIVE else f", {promise.get_state_display().lower()}"
    return f"{promise.get_kind_display()}: {text} (made by {maker} on {promise.deal.name}{state})"


class ObjectChoiceField(forms.TypedChoiceField):
    """One object from a preloaded list (no query per render); a pk not on the list is refused."""

    widget = FastSelect

    def __init__(self, *, objects: Iterable[Any], label_of: Any = str, empty_label: str = "—", **kwargs: Any) -> None:
        self.objects = {o.pk: o for o in objects}
        choices = [("", empty_label), *[(o.pk, label_of(o)) for o in self.objects.values()]]
        super().__init__(choices=choices, coerce=self._object, empty_value=None, **kwargs)

    def _object(self, value: Any) -> Any:
        try:
            return self.objects[int(value)]
        except (KeyError, TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None


class ObjectMultipleChoiceField(forms.TypedMultipleChoiceField):
    """Several objects from a preloaded list, as checkboxes."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, *, objects: Iterable[Any], label_of: Any = str, **kwargs: Any) -> None:
        self.objects = {o.pk: o for o in objects}
        choices = [(o.pk, label_of(o)) for o in self.objects.values()]
        super().__init__(choices=choices, coerce=self._object, **kwargs)

    def _object(self, value: Any) -> Any:
        try:
            return self.objects[int(value)]
        except (KeyError, TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None


# --- Stages -------------------------------------------------------------------------------------


class StageEditForm(forms.Form):
    due_date = forms.DateField(
        required=False, widget=DateInput(), label="Due",
        error_messages={"invalid": "Enter a date such as 2026-03-01."},
    )
    description = text.MultiLineFormField(
        required=False, max_length=2000, widget=Textarea(attrs={"rows": 3}), label="What this stage covers"
    )
    delivered = text.MultiLineFormField(
        required=False, max_length=5000, widget=Textarea(attrs={"rows": 4}), label="What was delivered",
        help_text="The customer reads this on the sign-off page.",
    )

    def __init__(self, *args: Any, promises: list[Promise], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["promises"] = ObjectMultipleChoiceField(
            objects=promises, label_of=promise_label, required=False, label="Promises this stage fulfils",
            error_messages={"invalid_choice": "Choose promises made on this project's deal."},
        )

    @staticmethod
    def initial_for(stage: Stage, promise_ids: list[int]) -> dict[str, Any]:
        return {
            "due_date": stage.due_date,
            "description": stage.description,
            "delivered": stage.delivered,
            "promises": promise_ids,
        }

    def stage_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"due_date": data["due_date"], "description": data["description"], "delivered": data["delivered"]}


class SignoffRequestForm(forms.Form):
    delivered = text.MultiLineFormField(
        max_length=5000, widget=Textarea(attrs={"rows": 5}), label="What was delivered",
        help_text="The customer reads this on the sign-off page before signing.",
        error_messages={"required": "Say what was delivered; the customer reads it before signing."},
    )

    def __init__(self, *args: Any, signers: list[Contact], role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"] = ObjectChoiceField(
            objects=signers, label_of=contact_label, label="Who signs it off", empty_label="Choose the signer",
            help_text=f"Active contacts of the account with an email and the {role} role.",
            error_messages={
                "required": "Choose who signs this stage off.",
                "invalid_choice": f"Choose an active contact of this account with an email and the {role} role.",
            },
        )
        self.order_fields(["contact", "delivered"])


# --- Problems -----------------------------------------------------------------------------------


class ProblemForm(forms.Form):
    title = text.SingleLineFormField(max_length=200, error_messages={"required": "Give the problem a short title."})
    description = text.MultiLineFormField(
        required=False, max_length=10000, widget=Textarea(attrs={"rows": 5}),
        help_text="What happened, what the customer said, what it affects.",
    )
    category = forms.ChoiceField(choices=[("", "Choose…"), *Problem.Category.choices])
    severity = forms.ChoiceField(choices=[("", "Choose…"), *Problem.Severity.choices])

    def __init__(self, *args: Any, promises: list[Promise], projects: list[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"] = ObjectChoiceField(
            objects=projects, label_of=lambda p: f"Delivery of {p.deal.name} ({p.get_state_display().lower()})",
            required=False, label="Delivery", empty_label="The account's current delivery",
            error_messages={"invalid_choice": "Choose a delivery of this account."},
        )
        self.fields["promises"] = ObjectMultipleChoiceField(
            objects=promises, label_of=promise_label, required=False, label="Promises involved",
            help_text="Each promise named is marked broken, unless the customer changed their side.",
            error_messages={"invalid_choice": "Choose promises made to this account."},
        )


class ResolveForm(forms.Form):
    resolution = text.MultiLineFormField(
        max_length=5000, widget=Textarea(attrs={"rows": 3}), label="How was it resolved?",
        error_messages={"required": "Say how it was resolved."},
    )


class ReopenForm(forms.Form):
    reason = text.MultiLineFormField(
        max_length=5000, widget=Textarea(attrs={"rows": 2}), label="Why is it reopened?",
        error_messages={"required": "Say why the problem is reopened."},
    )


def _problem_owners() -> Any:
    """Owners of accounts that have problems (the delivery owner, after acceptance)."""
    with_problems = Problem.objects.filter(account__owner=OuterRef("pk"))
    return User.objects.filter(Exists(with_problems)).order_by("first_name", "last_name", "username")


class ProblemFilterForm(forms.Form):
    """The problems list's filters (GET); they stay in the URL."""

    q = text.SingleLineFormField(required=False, max_length=100, label="Account")
    state = forms.ChoiceField(required=False, choices=ANY + list(Problem.State.choices), widget=FastSelect)
    severity = forms.ChoiceField(required=False, choices=ANY + list(Problem.Severity.choices), widget=FastSelect)
    category = forms.ChoiceField(required=False, choices=ANY + list(Problem.Category.choices), widget=FastSelect)
    source = forms.ChoiceField(required=False, choices=ANY + list(Problem.Source.choices), widget=FastSelect)
    owner = PersonChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Any", widget=FastSelect, label="Account owner"
    )
    # Set by the account page's "all problems" link; kept in the URL like the other filters.
    # At most a 64-bit id: a larger number is refused here rather than overflow the database.
    account = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = _problem_owners()


class DeliveriesFilterForm(forms.Form):
    """The delivery managers' filter on "deliveries": whose projects, and which."""

    owner = PersonChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Everyone", widget=FastSelect,
        label="Delivery owner",
    )
    state = forms.ChoiceField(
        required=False, choices=[("", "Active and complete"), *Project.State.choices], widget=FastSelect
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owners = User.objects.filter(Exists(Project.objects.filter(owner=OuterRef("pk"))))
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = owners.order_by(
            "first_name", "last_name", "username"
        )


# --- The customer portal ------------------------------------------------------------------------


class PortalLinkForm(forms.Form):
    def __init__(self, *args: Any, contacts: list[Contact], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"] = ObjectChoiceField(
            objects=contacts, label_of=contact_label, label="Send the portal link to", empty_label="Choose a contact",
            error_messages={
                "required": "Choose who receives the portal link.",
                "invalid_choice": "Choose an active contact of this account with an email.",
            },
        )


def portal_contacts(account_id: int, contacts: Iterable[Contact] | None = None) -> list[Contact]:
    """Who may be sent the portal link: the account's active contacts with an email who have not
    asked not to be contacted, the primary first, then by name. Chosen from `contacts` (all the
    account's, when the caller has read them already: the account page) or from one query."""
    if contacts is None:
        contacts = Contact.objects.filter(account_id=account_id)
    reachable = [c for c in contacts if c.can_be_emailed]
    return sorted(reachable, key=lambda c: (not c.is_primary, c.first_name.casefold(), c.last_name.casefold()))
