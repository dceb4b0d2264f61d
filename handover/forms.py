"""Forms for the handover pages. They parse input; they never save (handover.services does).

Contact choices are built from a list the view loaded once, not from a queryset: a ledger of 30
promises renders 30 reset forms, and a ModelChoiceField would query the contacts for each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from core import text
from core.widgets import DateInput, DateTimeInput, Textarea
from crm import roles
from crm.forms import PersonChoiceField, vendor_people
from crm.models import Contact
from handover.models import Promise, PromiseReview
from handover.signals import acceptance_choices

User = get_user_model()


def contact_label(contact: Contact) -> str:
    role = contact.get_role_display()
    left = "" if contact.is_active else ", has left"
    return f"{contact.first_name} {contact.last_name}".strip() + f" ({role}{left})"


class ContactChoiceField(forms.TypedChoiceField):
    """A customer contact of this account, chosen from a preloaded list (no query per render)."""

    def __init__(self, *, contacts: Iterable[Contact] = (), empty_label: str = "—", **kwargs: Any) -> None:
        self.contacts = {c.pk: c for c in contacts}
        choices = [("", empty_label), *[(c.pk, contact_label(c)) for c in self.contacts.values()]]
        super().__init__(choices=choices, coerce=self._contact, empty_value=None, **kwargs)

    def _contact(self, value: Any) -> Contact:
        try:
            return self.contacts[int(value)]
        except (KeyError, TypeError, ValueError):
            raise ValidationError("Choose a contact of this account.") from None


def delivery_team() -> Any:
    """Who can own a delivery: active members of the delivery team."""
    return (
        User.objects.filter(is_active=True, groups__name=roles.DELIVERY_TEAM)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def _ids(form: forms.BaseForm, prefix: str, pk: int | None) -> None:
    # Many small forms share a page; ids carry the promise so labels point at the right input,
    # while the posted names stay plain ("verdict", "reason").
    form.auto_id = f"id_{prefix}{pk or ''}_%s"


# --- Promises -------------------------------------------------------------------------------


class PromiseForm(forms.Form):
    kind = forms.ChoiceField(choices=Promise.Kind.choices, initial=Promise.Kind.DELIVERABLE)
    description = text.MultiLineFormField(
        max_length=5000,
        widget=Textarea(attrs={"rows": 2}),
        label="What was promised",
        error_messages={"required": "Write what the customer was promised."},
    )
    source = forms.ChoiceField(choices=Promise.Source.choices, initial=Promise.Source.CALL, label="Said in")
    source_reference = text.SingleLineFormField(
        required=False, max_length=200, label="Reference", help_text="Email subject, proposal page…"
    )
    due_date = forms.DateField(required=False, widget=DateInput(), label="Due")
    made_to = ContactChoiceField(required=False, label="Made to")

    field_order = ["kind", "source", "description", "made_to", "due_date", "source_reference"]

    def __init__(self, *args: Any, contacts: Iterable[Contact], pk: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["made_to"] = ContactChoiceField(
            contacts=contacts, required=False, label="Made to", empty_label="Nobody in particular"
        )
        _ids(self, "promise", pk)

    @classmethod
    def initial_from(cls, promise: Promise) -> dict[str, Any]:
        return {
            "kind": promise.kind,
            "description": promise.description,
            "source": promise.source,
            "source_reference": promise.source_reference,
            "due_date": promise.due_date,
            "made_to": promise.made_to_id,
        }


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(widget=forms.RadioSelect, error_messages={"required": "Choose a verdict."})
    comment = text.MultiLineFormField(required=False, max_length=2000, widget=Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, kind: str, pk: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        verdicts = PromiseReview.VERDICTS[PromiseReview.Kind(kind)]
        cast(forms.ChoiceField, self.fields["verdict"]).choices = [(v.value, v.label) for v in verdicts]
        self.kind = kind
        _ids(self, f"review-{kind}-", pk)


class ResetForm(forms.Form):
    expectation = text.MultiLineFormField(
        max_length=5000,
        widget=Textarea(attrs={"rows": 2}),
        label="What the customer now expects",
        error_messages={"required": "Write what the customer now expects."},
    )
    agreed_by = ContactChoiceField(label="Agreed by")
    agreed_on = forms.DateField(
        widget=DateInput(), label="Agreed on", error_messages={"required": "Say when the customer agreed."}
    )

    def __init__(self, *args: Any, contacts: Iterable[Contact], pk: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agreed_by"] = ContactChoiceField(
            contacts=contacts,
            label="Agreed by",
            empty_label="Choose the contact",
            error_messages={"required": "Name the customer contact who agreed."},
        )
        _ids(self, "reset", pk)


class ReasonForm(forms.Form):
    reason = text.MultiLineFormField(
        max_length=2000, widget=Textarea(attrs={"rows": 2}), error_messages={"required": "A reason is required."}
    )

    def __init__(
        self, *args: Any, prefix_id: str = "reason", pk: int | None = None, label: str = "Reason", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = label
        _ids(self, prefix_id, pk)


# --- The handover ---------------------------------------------------------------------------


class HandoverForm(forms.Form):
    """The package the rep completes. Customer contacts come as one checkbox and one role per
    account contact (fields contact_<pk> and role_<pk>), so no formset is needed."""

    purchased = text.MultiLineFormField(
        required=False, max_length=10000, widget=Textarea(attrs={"rows": 3}), label="What was purchased"
    )
    customer_expectations = text.MultiLineFormField(
        required=False,
        max_length=10000,
        widget=Textarea(attrs={"rows": 4}),
        label="The customer's expectations, in their own words",
    )
    risks = text.MultiLineFormField(required=False, max_length=5000, widget=Textarea(attrs={"rows": 3}))
    meeting_at = forms.DateTimeField(required=False, widget=DateTimeInput(), label="Handover meeting")
    proposed_delivery_owner = PersonChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Not yet", label="Proposed delivery owner"
    )
    vendor_attendees = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="Our attendees"
    )
    meeting_minutes = text.MultiLineFormField(
        required=False, max_length=10000, widget=Textarea(attrs={"rows": 4}), label="Minutes"
    )
    meeting_held = forms.BooleanField(required=False, label="The meeting has been held")

    def __init__(self, *args: Any, contacts: list[Contact], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contacts = contacts
        cast(forms.ModelChoiceField, self.fields["proposed_delivery_owner"]).queryset = delivery_team()
        vendor = cast(forms.ModelMultipleChoiceField, self.fields["vendor_attendees"])
        vendor.queryset = vendor_people()
        vendor.label_from_instance = lambda u: str(u.get_full_name() or u.get_username())  # type: ignore[method-assign,assignment]
        self.fields["customer_attendees"] = forms.TypedMultipleChoiceField(
            required=False,
            widget=forms.CheckboxSelectMultiple,
            label="Customer attendees",
            choices=[(c.pk, contact_label(c)) for c in contacts],
            coerce=int,
        )
        for contact in contacts:
            self.fields[f"contact_{contact.pk}"] = forms.BooleanField(required=False, label=contact_label(contact))
            self.fields[f"role_{contact.pk}"] = text.SingleLineFormField(
                required=False, max_length=120, label=f"Role of {contact.first_name} in the delivery"
            )

    def contact_rows(self) -> list[tuple[Contact, Any, Any]]:
        return [(c, self[f"contact_{c.pk}"], self[f"role_{c.pk}"]) for c in self.contacts]

    def main_fields(self) -> list[Any]:
        return [self[name] for name in ("purchased", "customer_expectations", "risks")]

    def meeting_fields(self) -> list[Any]:
        names = (
            "meeting_at",
            "proposed_delivery_owner",
            "vendor_attendees",
            "customer_attendees",
            "meeting_minutes",
            "meeting_held",
        )
        return [self[name] for name in names]

    @staticmethod
    def initial_for(handover: Any, links: list[Any], vendor_ids: list[int], customer_ids: list[int]) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "purchased": handover.purchased,
            "customer_expectations": handover.customer_expectations,
            "risks": handover.risks,
            "meeting_at": handover.meeting_at,
            "meeting_minutes": handover.meeting_minutes,
            "meeting_held": handover.meeting_held,
            "proposed_delivery_owner": handover.proposed_delivery_owner_id,
            "vendor_attendees": vendor_ids,
            "customer_attendees": customer_ids,
        }
        for link in links:
            initial[f"contact_{link.contact_id}"] = True
            initial[f"role_{link.contact_id}"] = link.delivery_role
        return initial

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        by_pk = {c.pk: c for c in self.contacts}
        return {
            "purchased": data["purchased"],
            "customer_expectations": data["customer_expectations"],
            "risks": data["risks"],
            "meeting_at": data["meeting_at"],
            "meeting_minutes": data["meeting_minutes"],
            "meeting_held": data["meeting_held"],
            "proposed_delivery_owner": data["proposed_delivery_owner"],
            "vendor_attendees": list(data["vendor_attendees"]),
            "customer_attendees": [by_pk[pk] for pk in data["customer_attendees"]],
            "contacts": [(c, data.get(f"role_{c.pk}") or "") for c in self.contacts if data.get(f"contact_{c.pk}")],
        }


def acceptance_offers() -> list[dict[str, Any]]:
    """What the apps that start on acceptance let the delivery manager choose (one query each)."""
    return [offer for _receiver, offer in acceptance_choices.send(sender=AcceptForm) if offer]  # type: ignore[misc]


class AcceptForm(forms.Form):
    delivery_owner = forms.TypedChoiceField(
        coerce=int, label="Delivery owner", error_messages={"required": "Name the delivery owner."}
    )

    def __init__(
        self, *args: Any, team: list[Any], pk: int | None = None, offers: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.team = {u.pk: u for u in team}
        field = cast(forms.TypedChoiceField, self.fields["delivery_owner"])
        field.choices = [("", "Choose…"), *[(u.pk, u.get_full_name() or u.get_username()) for u in team]]
        self.option_names = []
        for offer in acceptance_offers() if offers is None else offers:
            self.fields[offer["name"]] = forms.TypedChoiceField(
                coerce=int, required=False, label=offer["label"], choices=offer["choices"],
                initial=offer.get("initial"), help_text=offer.get("help_text", ""),
            )
            self.option_names.append(offer["name"])
        _ids(self, "accept", pk)

    def owner(self) -> Any:
        return self.team[self.cleaned_data["delivery_owner"]]

    def options(self) -> dict[str, Any]:
        """The choices offered by the apps that start on acceptance, as the service takes them."""
        return {name: self.cleaned_data.get(name) for name in self.option_names if self.cleaned_data.get(name)}
