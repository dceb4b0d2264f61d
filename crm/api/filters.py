"""Query filters for crm's API lists. Every list is already limited to what the user may see
(`visible_to`); filters only narrow it, so a filter can never reveal another rep's rows."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from core.api.filters import IdFilter, TextFilter, TrueOrFalseFilter
from crm import roles, selectors
from crm.models import Account, Activity, Contact, Deal

User = get_user_model()


class AccountFilter(django_filters.FilterSet):
    owner = IdFilter(field_name="owner_id", help_text="Accounts owned by this user id.")
    lifecycle = django_filters.ChoiceFilter(choices=Account.Lifecycle.choices)
    single_threaded = django_filters.BooleanFilter(
        method="filter_single_threaded",
        help_text="true: at most one active customer contact or one vendor person; false: the others.",
    )
    mine = django_filters.BooleanFilter(method="filter_mine", help_text="Only accounts whose team I am on.")
    archived = django_filters.BooleanFilter(
        method="filter_archived",
        help_text="true: archived accounts too; false or left out: live ones only (merged accounts are never listed).",
    )

    class Meta:
        model = Account
        fields = ["owner", "lifecycle", "single_threaded", "mine", "archived"]

    def filter_archived(self, queryset: QuerySet[Account], name: str, value: bool | None) -> QuerySet[Account]:
        # The view's queryset is live() unless archived=true (so leaving the filter out hides them).
        if value is True:
            return queryset.filter(merged_into__isnull=True)
        return queryset

    def filter_single_threaded(self, queryset: QuerySet[Account], name: str, value: bool | None) -> QuerySet[Account]:
        # The list queryset is annotated with the thread counts already.
        single = Q(active_contact_count__lte=1) | Q(vendor_people_count__lte=1)
        if value is True:
            return queryset.filter(single)
        if value is False:
            return queryset.exclude(single)
        return queryset

    def filter_mine(self, queryset: QuerySet[Account], name: str, value: bool | None) -> QuerySet[Account]:
        if not value:
            return queryset
        user = self.request.user  # type: ignore[union-attr]
        return queryset.filter(team__user=user, team__ended_at__isnull=True).distinct()


class LiveUnlessArchived(django_filters.FilterSet):
    """Archived and merged rows (and those of archived or merged accounts) are left out unless
    `archived=true`, as on the list pages."""

    archived = TrueOrFalseFilter(
        method="filter_archived", help_text="true: include archived and merged rows (left out by default).",
    )
    live_filter: dict[str, Any] = {"account__archived_at__isnull": True, "account__merged_into__isnull": True}

    def filter_archived(self, queryset: QuerySet[Any], name: str, value: bool | None) -> QuerySet[Any]:
        return queryset  # applied in filter_queryset, which also runs when the parameter is absent

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("archived"):
            queryset = queryset.filter(**self.live_filter)
        return queryset


class ContactFilter(LiveUnlessArchived):
    q = TextFilter(method="filter_q", max_length=100, help_text="Name, email or phone.")
    account = IdFilter(field_name="account_id")
    role = django_filters.ChoiceFilter(choices=Contact.Role.choices)
    owner = IdFilter(field_name="account__owner_id", help_text="Contacts of accounts owned by this user id.")
    mine = TrueOrFalseFilter(method="filter_mine", help_text="Only contacts of accounts whose team I am on.")
    is_active = TrueOrFalseFilter(help_text="false: people who have left the customer.")
    do_not_contact = TrueOrFalseFilter(help_text="true: people who asked not to be contacted.")
    live_filter = {
        **LiveUnlessArchived.live_filter, "archived_at__isnull": True, "merged_into__isnull": True,
    }

    class Meta:
        model = Contact
        fields = ["q", "account", "role", "owner", "mine", "is_active", "do_not_contact", "archived"]

    def filter_q(self, queryset: QuerySet[Contact], name: str, value: str) -> QuerySet[Contact]:
        return selectors.contacts_matching(queryset, value)

    def filter_mine(self, queryset: QuerySet[Contact], name: str, value: bool | None) -> QuerySet[Contact]:
        if not value:
            return queryset
        return queryset.filter(account__in=Account.objects.on_team_of(self.request.user.pk))  # type: ignore[union-attr]


class DealFilter(LiveUnlessArchived):
    q = TextFilter(method="filter_q", max_length=100, help_text="The deal's or its account's name.")
    account = IdFilter(field_name="account_id")
    owner = IdFilter(field_name="owner_id")
    stage = django_filters.MultipleChoiceFilter(
        choices=Deal.Stage.choices, help_text="One stage, or several (`stage=lead&stage=proposal`).",
    )
    status = django_filters.ChoiceFilter(
        choices=[("open", "Open"), ("won", "Won"), ("lost", "Lost")], method="filter_status",
        help_text="open: lead to negotiation; won; lost.",
    )
    mine = TrueOrFalseFilter(method="filter_mine", help_text="Only deals I own.")
    close_from = django_filters.DateFilter(field_name="expected_close_date", lookup_expr="gte",
                                           help_text="Expected to close on or after this date.")
    close_to = django_filters.DateFilter(field_name="expected_close_date", lookup_expr="lte",
                                         help_text="Expected to close on or before this date.")
    amount_min = django_filters.NumberFilter(field_name="value", lookup_expr="gte", min_value=0,
                                             max_digits=14, decimal_places=2, help_text="Amount at least.")
    amount_max = django_filters.NumberFilter(field_name="value", lookup_expr="lte", min_value=0,
                                             max_digits=14, decimal_places=2, help_text="Amount at most.")

    class Meta:
        model = Deal
        fields = ["q", "account", "stage", "status", "owner", "mine", "close_from", "close_to", "amount_min",
                  "amount_max", "archived"]

    def filter_q(self, queryset: QuerySet[Deal], name: str, value: str) -> QuerySet[Deal]:
        return selectors.deals_matching(queryset, value)

    def filter_status(self, queryset: QuerySet[Deal], name: str, value: str) -> QuerySet[Deal]:
        return queryset.filter(stage__in=selectors.DEAL_STATUSES[value]) if value else queryset

    def filter_mine(self, queryset: QuerySet[Deal], name: str, value: bool | None) -> QuerySet[Deal]:
        return queryset.filter(owner=self.request.user) if value else queryset  # type: ignore[union-attr]


class ActivityFilter(django_filters.FilterSet):
    account = IdFilter(field_name="account_id")
    deal = IdFilter(field_name="deal_id")
    kind = django_filters.ChoiceFilter(choices=Activity.Kind.choices)

    class Meta:
        model = Activity
        fields = ["account", "deal", "kind"]


class UserFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(
        choices=[(name, name) for name in roles.ALL_ROLES], method="filter_role", help_text="A role name.",
    )

    class Meta:
        model = User
        fields = ["role"]

    def filter_role(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        if not value:
            return queryset
        if value == roles.ADMINISTRATOR:
            return queryset.filter(Q(groups__name=value) | Q(is_superuser=True)).distinct()
        return queryset.filter(groups__name=value).distinct()
