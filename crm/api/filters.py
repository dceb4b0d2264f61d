"""Query filters for crm's API lists. Every list is already limited to what the user may see
(`visible_to`); filters only narrow it, so a filter can never reveal another rep's rows."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from core.api.filters import IdFilter
from crm import roles
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


class ContactFilter(django_filters.FilterSet):
    account = IdFilter(field_name="account_id")
    is_active = django_filters.BooleanFilter(help_text="false: people who have left the customer.")

    class Meta:
        model = Contact
        fields = ["account", "is_active"]


class DealFilter(django_filters.FilterSet):
    account = IdFilter(field_name="account_id")
    owner = IdFilter(field_name="owner_id")
    stage = django_filters.ChoiceFilter(choices=Deal.Stage.choices)

    class Meta:
        model = Deal
        fields = ["account", "stage", "owner"]


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
