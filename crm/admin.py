"""Admin for configuration and support. Edits go through crm.services like everywhere else;
history (ledger, timeline, team periods) is read-only, and state fields are never edited here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import ngettext

from crm import notices, services, text
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    Contact,
    CustomerLink,
    Deal,
    DealLineItem,
    Notice,
    OwnershipChange,
    UserProfile,
)
from flows import actions as flows

User = get_user_model()

ACCOUNT_READONLY = ["owner", "lifecycle", "created_at", "updated_at"]
DEAL_READONLY = ["account", "stage", "owner", "sold_by", "closed_at", "lost_reason", "created_at", "updated_at"]
PROFILE_FIELDS = ("phone", "time_zone", "work_starts", "work_ends", "manager")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the services and never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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


# --- The outbox -----------------------------------------------------------------------------


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    """Every reminder, escalation, digest and alert, for support: what was sent, what is owed and
    what failed (filter by state), with a retry action for failed ones. Rows move only through
    crm.notices, so nothing here is editable: saving a stale copy could undo a send."""

    list_display = ["key", "kind", "state", "due_at", "attempts", "sent_at", "short_error"]
    list_filter = ["state", "kind"]
    search_fields = ["key", "target"]
    readonly_fields = ("kind", "key", "target", "data", "due_at", "state", "claimed_at", "attempts", "sent_at",
                       "recipients", "last_error", "created_at")
    fields = readonly_fields
    actions = ["retry"]

    @admin.display(description="last error")
    def short_error(self, notice: Notice) -> str:
        return notice.last_error[:120]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list (and its retry action) for those who may change notices; each row read-only.
        return obj is None and super().has_change_permission(request)

    @admin.action(description="Retry the selected failed notices", permissions=["change"])
    def retry(self, request: HttpRequest, queryset: Any) -> None:
        failed = list(queryset.filter(state=Notice.State.FAILED))
        others = queryset.count() - len(failed)
        retried = sum(notices.notice_retry(notice=notice) for notice in failed)
        self.message_user(request, ngettext(
            "%(count)d notice owed again: the next dispatch sends it.",
            "%(count)d notices owed again: the next dispatch sends them.",
            retried,
        ) % {"count": retried}, messages.SUCCESS)
        if others:
            self.message_user(request, ngettext(
                "%(count)d selected notice had not failed and was left alone.",
                "%(count)d selected notices had not failed and were left alone.",
                others,
            ) % {"count": others}, messages.WARNING)


@admin.register(CustomerLink)
class CustomerLinkAdmin(ReadOnlyAdmin):
    """Sign-off, survey and portal links, for support: which were emailed, used, revoked, and
    which could not be emailed and why (filter "email failed at"; sending a new link from the
    staff page is the way out). The token's hash is not shown."""

    list_display = ["purpose", "account", "contact", "created_at", "expires_at", "emailed_at", "used_at",
                    "revoked_at", "email_failed_at", "short_email_error"]
    list_filter = ["purpose", ("email_failed_at", admin.EmptyFieldListFilter)]
    search_fields = ["account__name", "contact__email", "target"]
    list_select_related = ["account", "contact"]
    readonly_fields = ("purpose", "account", "contact", "target", "reusable", "created_by", "created_at",
                       "expires_at", "emailed_at", "used_at", "revoked_at", "renewal_requested_at",
                       "email_failed_at", "email_error")
    fields = readonly_fields

    @admin.display(description="email error")
    def short_email_error(self, link: CustomerLink) -> str:
        return link.email_error[:120]


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
    # A vendor person's name reaches customers' emails: single-line text, as every name (crm.text).
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
