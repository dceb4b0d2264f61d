"""Admin for configuration and support. Edits go through crm.services like everywhere else;
history (ledger, timeline, team periods) is read-only, and state fields are never edited here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import ngettext

from core import text
from core.admin import ReadOnlyAdmin, ReadOnlyInline
from crm import services
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    Contact,
    Deal,
    DealLineItem,
    OwnershipChange,
    UserProfile,
)
from flows import actions as flows

User = get_user_model()

ACCOUNT_READONLY = ["owner", "lifecycle", "created_at", "updated_at"]
DEAL_READONLY = ["account", "stage", "owner", "sold_by", "closed_at", "lost_reason", "created_at", "updated_at"]
PROFILE_FIELDS = ("phone", "time_zone", "work_starts", "work_ends", "manager")


def _changed(form: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.changed_data if name in allowed}


# --- Accounts -------------------------------------------------------------------------------


class TeamInline(ReadOnlyInline):
    model = AccountTeamMember
    readonly_fields = ("user", "role", "started_at", "ended_at")
    fields = readonly_fields


class OwnershipInline(ReadOnlyInline):
    model = OwnershipChange
    readonly_fields = ("changed_at", "from_user", "to_user", "reason", "assigned_by", "note")
    fields = readonly_fields


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "lifecycle", "city", "country", "updated_at"]
    list_filter = ["lifecycle"]
    search_fields = ["name", "city", "industry"]
    list_select_related = ["owner"]
    # The owner changes only by reassignment (with a ledger row), and the lifecycle only with the
    # deals and the delivery (with an event), never by editing the field.
    readonly_fields = ACCOUNT_READONLY
    fields = [*services.ACCOUNT_FIELDS, *ACCOUNT_READONLY]
    inlines = [TeamInline, OwnershipInline]

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        if change:
            services.account_update(account=obj, by=request.user, **_changed(form, services.ACCOUNT_FIELDS))
        else:
            data = {n: form.cleaned_data[n] for n in services.ACCOUNT_FIELDS if n in form.cleaned_data}
            created = services.account_create(by=request.user, **data)
            obj.pk = created.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "account", "role", "email", "is_active", "is_primary"]
    list_filter = ["role", "is_active", "do_not_contact"]
    search_fields = ["first_name", "last_name", "email", "account__name"]
    list_select_related = ["account"]
    readonly_fields = ["account", "created_at"]
    fields = ["account", *services.CONTACT_FIELDS, "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # contacts are added on the account page, under an account

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        flows.contact_update(contact=obj, by=request.user, **_changed(form, services.CONTACT_FIELDS))


# --- Deals ----------------------------------------------------------------------------------


class LineItemInline(ReadOnlyInline):
    model = DealLineItem
    readonly_fields = ("kind", "name", "quantity", "unit_price")
    fields = readonly_fields


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "stage", "value", "currency", "owner", "sold_by", "closed_at"]
    list_filter = ["stage", "currency"]
    search_fields = ["name", "account__name"]
    list_select_related = ["account", "owner", "sold_by"]
    # Stage moves only through the pipeline actions; attribution is frozen when won.
    readonly_fields = DEAL_READONLY
    fields = [*services.DEAL_FIELDS, *DEAL_READONLY]
    inlines = [LineItemInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Deal, form: Any, change: bool) -> None:
        services.deal_update(deal=obj, by=request.user, **_changed(form, services.DEAL_FIELDS))


# --- History --------------------------------------------------------------------------------


@admin.register(OwnershipChange)
class OwnershipChangeAdmin(ReadOnlyAdmin):
    list_display = ["account", "from_user", "to_user", "reason", "changed_at", "assigned_by", "notified_at",
                    "notice_failed_at", "short_notice_error"]
    list_filter = ["reason", ("notice_failed_at", admin.EmptyFieldListFilter)]
    readonly_fields = ("account", "from_user", "to_user", "reason", "changed_at", "assigned_by", "note",
                       "notified_at", "notice_failed_at", "notice_error")
    fields = readonly_fields

    @admin.display(description="email error")
    def short_notice_error(self, change: OwnershipChange) -> str:
        return change.notice_error[:120]
    search_fields = ["account__name"]
    list_select_related = ["account", "from_user", "to_user", "assigned_by"]


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["subject", "account", "kind", "event_type", "actor", "occurred_at"]
    list_filter = ["kind", "event_type"]
    search_fields = ["subject", "account__name"]
    list_select_related = ["account", "actor"]


@admin.register(AccountTeamMember)
class AccountTeamMemberAdmin(ReadOnlyAdmin):
    list_display = ["account", "user", "role", "started_at", "ended_at"]
    list_filter = ["role"]
    search_fields = ["account__name", "user__username"]
    list_select_related = ["account", "user"]


# --- People ---------------------------------------------------------------------------------


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "phone", "time_zone", "manager"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    readonly_fields = ["user"]
    fields = ["user", *PROFILE_FIELDS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # every user gets one when created

    def save_model(self, request: HttpRequest, obj: UserProfile, form: Any, change: bool) -> None:
        services.profile_update(user=obj.user, by=request.user, **_changed(form, PROFILE_FIELDS))


class KeepwarmUserChangeForm(UserChangeForm):
    # A vendor person's name reaches customers' emails: single-line text, as every name (core.text).
    first_name = text.SingleLineFormField(max_length=150, required=False, label="First name")
    last_name = text.SingleLineFormField(max_length=150, required=False, label="Last name")

    def clean_is_active(self) -> bool:
        active = self.cleaned_data.get("is_active")
        if self.instance.pk and self.instance.is_active and not active:
            owned = Account.objects.owned_by(self.instance).count()
            if owned:
                url = reverse("crm:user_deactivate", args=[self.instance.pk])
                raise ValidationError(
                    ngettext(
                        "This person still owns %(count)d account. Use the deactivate page (%(url)s) to name a "
                        "successor, so every account keeps an owner.",
                        "This person still owns %(count)d accounts. Use the deactivate page (%(url)s) to name a "
                        "successor, so every account keeps an owner.",
                        owned,
                    ) % {"count": owned, "url": url}
                )
        return bool(active)


admin.site.unregister(User)


@admin.register(User)
class KeepwarmUserAdmin(UserAdmin):
    form = KeepwarmUserChangeForm
