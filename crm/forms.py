"""Forms for the browser UI. They parse and validate input; they never save.

Every write goes through crm.services; what the service refuses comes back as field errors
through `add_service_errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from core import text
from core.widgets import DateInput, DateTimeInput, Textarea, TimeInput
from crm import permissions, roles, services
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, DealLineItem, OwnershipChange, UserProfile

User = get_user_model()


def vendor_people() -> QuerySet[Any]:
    """Active users with at least one role: the people work can be assigned to."""
    return (
        User.objects.filter(is_active=True, groups__isnull=False)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def owners() -> QuerySet[Any]:
    """Users who own at least one account; EXISTS keeps it cheap with 100,000 accounts."""
    return User.objects.filter(Exists(Account.objects.filter(owner=OuterRef("pk"))))


def _choices(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    return cast(forms.ModelChoiceField, form.fields[name])


class FastSelect(forms.Select):
    """A <select> built in Python. Django renders every <option> through a template: with 50
    owners that was a third of the accounts list's rendering time (profiled with pyinstrument)."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option["value"], SELECTED if option["selected"] else "", option["label"])
                for _group, group_choices, _index in widget["optgroups"]
                for option in group_choices
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', name, _attrs_html(widget["attrs"]), options)


SELECTED = mark_safe(" selected")  # a constant attribute, nothing user-supplied


def _attrs_html(attrs: dict[str, Any]) -> SafeString:
    """The attributes as django/forms/widgets/attrs.html writes them: in their order, True as a
    bare name, False left out (unlike flatatt, which sorts them)."""
    return format_html_join(
        "", "{}",
        (
            (format_html(" {}", attr) if value is True else format_html(' {}="{}"', attr, value),)
            for attr, value in attrs.items()
            if value is not False
        ),
    )


class _ReadOnceChoiceIterator(forms.models.ModelChoiceIterator):
    """The choices from one plain read of the queryset. Django's iterator streams them with
    `.iterator()`, which on PostgreSQL is a server-side cursor held across commits (DECLARE ...
    WITH HOLD, then FETCH and CLOSE): three round trips and a materialised result for a few dozen
    people."""

    def __iter__(self) -> Any:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class PersonChoiceField(forms.ModelChoiceField):
    iterator = _ReadOnceChoiceIterator

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Puts a service's ValidationError next to the fields it names; the rest on top of the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, messages in exc.message_dict.items():
        field = name if name in form.fields else None
        for message in messages:
            form.add_error(field, message if field else _prefixed(form, name, message))


def _prefixed(form: forms.BaseForm, name: str, message: str) -> str:
    if name in ("__all__", ""):
        return message
    return f"{name.replace('_', ' ').capitalize()}: {message}"


# --- Accounts -------------------------------------------------------------------------------


class AccountForm(forms.ModelForm):
    """An account's details as edited; its lifecycle moves with the deals and the delivery."""

    website = forms.URLField(required=False, max_length=300, assume_scheme="https")

    class Meta:
        model = Account
        fields = list(services.ACCOUNT_FIELDS)
        widgets = {"notes": Textarea(attrs={"rows": 4})}


class AccountCreateForm(AccountForm):
    owner = PersonChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Me",
        help_text="Who is responsible for the account. Leave as \u201cMe\u201d to own it yourself.",
    )

    class Meta(AccountForm.Meta):
        fields = list(services.ACCOUNT_CREATE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "owner").queryset = vendor_people()


class AccountFilterForm(forms.Form):
    """The accounts list's search and filters (GET)."""

    q = text.SingleLineFormField(required=False, max_length=100, label="Search")
    owner = PersonChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Any owner", widget=FastSelect
    )
    lifecycle = forms.ChoiceField(
        required=False, choices=[("", "Any stage"), *Account.Lifecycle.choices], widget=FastSelect
    )
    threads = forms.ChoiceField(
        required=False, label="Threads", widget=FastSelect,
        choices=[("", "Any"), ("single", "Single-threaded"), ("multi", "Multi-threaded")],
    )
    mine = forms.BooleanField(required=False, label="Mine only")
    archived = forms.BooleanField(required=False, label="Show archived")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "owner").queryset = (
            owners().order_by("first_name", "username")
        )


class MergeSearchForm(forms.Form):
    """The merge page's search for the account that stays (GET)."""

    q = text.SingleLineFormField(required=False, max_length=100, label="Find the account that stays")


# --- Contacts and team ----------------------------------------------------------------------


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = list(services.CONTACT_FIELDS)
        widgets = {"left_at": DateInput()}
        help_texts = {"is_active": "Untick when the person has left the customer's organisation."}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("is_active"):
            # The leaving date belongs to people who left; the service clears it too.
            data["left_at"] = None
        return data


class TeamMemberForm(forms.Form):
    user = PersonChoiceField(queryset=User.objects.none(), label="Person")
    role = forms.ChoiceField(
        choices=[(v, label) for v, label in AccountTeamMember.Role.choices if v in services.TEAM_ROLES_ADDABLE]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "user").queryset = vendor_people()


# --- Deals ----------------------------------------------------------------------------------


class DealForm(forms.ModelForm):
    class Meta:
        model = Deal
        fields = list(services.DEAL_FIELDS)
        widgets = {"expected_close_date": DateInput()}

    def clean_currency(self) -> str:
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValidationError("Use a three-letter currency code such as EUR.")
        return currency


def deal_owner_choices(account: Account) -> QuerySet[Any]:
    """Who may work the account's deals (crm.permissions.can_sell_on): sales managers and
    administrators, and the reps and pre-sales consultants on its sales team."""
    on_team = AccountTeamMember.objects.current().filter(
        account=account, user=OuterRef("pk"), role__in=permissions.SELLING_TEAM_ROLES,
    )
    managers = Q(groups__name__in=[roles.SALES_MANAGER, roles.ADMINISTRATOR])
    sellers = Q(groups__name__in=[roles.SALES_REP, roles.PRESALES]) & Q(Exists(on_team))
    return vendor_people().filter(managers | sellers).distinct()


class DealCreateForm(DealForm):
    """A new deal. A rep opens it for themselves; a sales manager may name its owner."""

    owner = PersonChoiceField(
        queryset=User.objects.none(), required=False, empty_label="The account owner (or me)",
        help_text="Who works the deal and is credited when it is won.",
    )

    def __init__(self, *args: Any, account: Account, by: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if roles.can_reassign(by):
            _choices(self, "owner").queryset = deal_owner_choices(account)
        else:
            del self.fields["owner"]


class LineItemForm(forms.ModelForm):
    class Meta:
        model = DealLineItem
        fields = ["kind", "name", "quantity", "unit_price"]


LineItemFormSet = forms.formset_factory(LineItemForm, extra=2, can_delete=True, max_num=50, validate_max=True)


def line_items_from(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    items = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE") or not data.get("name"):
            continue
        items.append({k: data[k] for k in ("kind", "name", "quantity", "unit_price")})
    return items


class DealMoveForm(forms.Form):
    to = forms.ChoiceField(label="Move to", choices=[(s.value, s.label) for s in Deal.OPEN_STAGES])
    # The stage the page showed the deal at: a move from a stale page is refused, not applied.
    from_stage = forms.ChoiceField(choices=Deal.Stage.choices, required=False, widget=forms.HiddenInput)


class DealReopenForm(forms.Form):
    to = forms.ChoiceField(
        label="Reopen at", choices=[(s.value, s.label) for s in Deal.OPEN_STAGES], initial=Deal.Stage.NEGOTIATION,
    )
    reason = text.MultiLineFormField(
        required=False, max_length=2000, widget=Textarea(attrs={"rows": 2}), label="Why reopen it?",
        help_text="Optional; it goes on the timeline.",
    )


class DealLoseForm(forms.Form):
    reason = text.MultiLineFormField(
        max_length=2000, widget=Textarea(attrs={"rows": 3}), label="Why was it lost?",
        error_messages={"required": "Say why the deal was lost."},
    )


# --- Activities -----------------------------------------------------------------------------


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(k.value, k.label) for k in Activity.LOGGABLE_KINDS], initial="call", widget=FastSelect
    )
    subject = text.SingleLineFormField(max_length=200)
    body = text.MultiLineFormField(
        required=False, max_length=10000, widget=Textarea(attrs={"rows": 3}), label="Notes"
    )
    occurred_at = forms.DateTimeField(required=False, widget=DateTimeInput(), label="When", help_text="Blank for now.")
    deal = forms.ModelChoiceField(
        queryset=Deal.objects.none(), required=False, empty_label="No deal", widget=FastSelect
    )

    def __init__(self, *args: Any, account: Account, deals: Sequence[Deal] | None = None, **kwargs: Any) -> None:
        """`deals`: the account's deals when the page has them already (newest first, as the
        queryset orders them), to list without a query; what is posted is still checked against
        the queryset."""
        super().__init__(*args, **kwargs)
        field = _choices(self, "deal")
        field.queryset = account.deals.order_by("-created_at", "-pk")
        if deals is not None:
            empty = [] if field.empty_label is None else [("", field.empty_label)]
            field.widget.choices = [*empty, *((d.pk, field.label_from_instance(d)) for d in deals)]


# --- Reassignment and users -----------------------------------------------------------------

REASSIGN_REASONS = [(v, label) for v, label in OwnershipChange.Reason.choices if v != OwnershipChange.Reason.NEW]


class ReassignForm(forms.Form):
    to_user = PersonChoiceField(queryset=User.objects.none(), label="New owner")
    reason = forms.ChoiceField(choices=REASSIGN_REASONS, initial=OwnershipChange.Reason.REASSIGNMENT)
    note = text.MultiLineFormField(
        required=False, max_length=5000, widget=Textarea(attrs={"rows": 4}), label="Handover note",
        help_text="What the new owner needs to know: open promises, moods, next steps.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "to_user").queryset = vendor_people()


class BookReassignForm(ReassignForm):
    from_user = PersonChoiceField(queryset=User.objects.none(), label="Whose book")
    field_order = ["from_user", "to_user", "reason", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_user"].label = "Successor"
        self.fields["reason"].initial = OwnershipChange.Reason.DEPARTURE
        # A departed user's book still needs moving, so inactive owners are listed too.
        _choices(self, "from_user").queryset = (
            owners().order_by("first_name", "username")
        )


class DeactivateForm(forms.Form):
    successor = PersonChoiceField(queryset=User.objects.none(), required=False)
    note = text.MultiLineFormField(
        required=False, max_length=5000, widget=Textarea(attrs={"rows": 3}), label="Handover note"
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "successor").queryset = vendor_people().exclude(pk=user.pk)


class ProfileForm(forms.ModelForm):
    # No "manager": missed check-ups escalate to the manager, so the reporting line is set by
    # administrators (admin, API), never by the person it reports on.
    class Meta:
        model = UserProfile
        fields = ["phone", "time_zone", "work_starts", "work_ends"]
        widgets = {"work_starts": TimeInput(), "work_ends": TimeInput()}
        labels = {"work_starts": "Working day starts", "work_ends": "Working day ends"}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("work_starts"), data.get("work_ends")
        if starts and ends and starts >= ends:
            self.add_error("work_ends", "Working hours must end after they start.")
        return data


# --- The contacts and deals lists' filters (GET) ---------------------------------------------
# Invalid fields are reported and ignored; the valid ones still filter (as the accounts list's).

YES_NO_ANY = [("", "Any"), ("yes", "Yes"), ("no", "No")]


def yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def deal_owners() -> QuerySet[Any]:
    """Users who own at least one deal; EXISTS keeps it cheap with many deals."""
    return User.objects.filter(Exists(Deal.objects.filter(owner=OuterRef("pk")))).order_by("first_name", "username")


class ContactFilterForm(forms.Form):
    q = text.SingleLineFormField(required=False, max_length=100, label="Search")
    role = forms.ChoiceField(required=False, choices=[("", "Any role"), *Contact.Role.choices], widget=FastSelect)
    owner = PersonChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Any owner", widget=FastSelect,
        label="Account owner",
    )
    active = forms.ChoiceField(
        required=False, label="Still there", widget=FastSelect,
        choices=[("", "Any"), ("yes", "Still at the organisation"), ("no", "Left")],
    )
    do_not_contact = forms.ChoiceField(
        required=False, label="Do not contact", widget=FastSelect,
        choices=[("", "Any"), ("yes", "Asked not to be contacted"), ("no", "May be contacted")],
    )
    mine = forms.BooleanField(required=False, label="On my accounts")
    archived = forms.BooleanField(required=False, label="Show archived")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "owner").queryset = owners().order_by("first_name", "username")

    def filters(self) -> dict[str, Any]:
        """The selector's arguments from the valid fields (call after is_valid())."""
        data = getattr(self, "cleaned_data", {})
        return {
            "q": (data.get("q") or "").strip(),
            "role": data.get("role") or "",
            "owner": data.get("owner"),
            "mine": bool(data.get("mine")),
            "active": yes_no(data.get("active")),
            "do_not_contact": yes_no(data.get("do_not_contact")),
            "archived": bool(data.get("archived")),
        }


class DealFilterForm(forms.Form):
    q = text.SingleLineFormField(required=False, max_length=100, label="Search")
    status = forms.ChoiceField(
        required=False, label="Status", widget=FastSelect,
        choices=[("", "Any"), ("open", "Open"), ("won", "Won"), ("lost", "Lost")],
    )
    owner = PersonChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Any owner", widget=FastSelect,
    )
    # On a line of its own under the search (app.css .field-choices).
    stage = forms.MultipleChoiceField(
        required=False, choices=Deal.Stage.choices, widget=forms.CheckboxSelectMultiple, label="Stages",
    )
    close_from = forms.DateField(required=False, label="Closing from", widget=DateInput())
    close_to = forms.DateField(required=False, label="Closing to", widget=DateInput())
    amount_min = forms.DecimalField(required=False, label="Amount from", min_value=0, max_digits=14, decimal_places=2)
    amount_max = forms.DecimalField(required=False, label="Amount to", min_value=0, max_digits=14, decimal_places=2)
    mine = forms.BooleanField(required=False, label="Mine only")
    archived = forms.BooleanField(required=False, label="Show archived")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "owner").queryset = deal_owners()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("close_from"), data.get("close_to")
        if start and end and start > end:
            self.add_error("close_to", "Must be on or after the \u201cclosing from\u201d date.")
        low, high = data.get("amount_min"), data.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", "Must be at least the \u201camount from\u201d.")
        return data

    def filters(self) -> dict[str, Any]:
        data = getattr(self, "cleaned_data", {})
        return {
            "q": (data.get("q") or "").strip(),
            "stages": list(data.get("stage") or []),
            "status": data.get("status") or "",
            "owner": data.get("owner"),
            "mine": bool(data.get("mine")),
            "close_from": data.get("close_from"),
            "close_to": data.get("close_to"),
            "amount_min": data.get("amount_min"),
            "amount_max": data.get("amount_max"),
            "archived": bool(data.get("archived")),
        }
