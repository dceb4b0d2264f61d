from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import ngettext

from outbox import notices
from outbox.models import Notice, Notification


class NotificationInline(admin.TabularInline):
    """Whose bell the notice reached, whether their email went too, and when they read it."""

    model = Notification
    fields = readonly_fields = ("user", "title", "link", "emailed", "created_at", "read_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    """Every reminder, escalation, digest and alert, for support: what was sent, what is owed and
    what failed (filter by state), with a retry action for failed ones. Rows move only through
    outbox.notices, so nothing here is editable: saving a stale copy could undo a send."""

    list_display = ["key", "kind", "state", "due_at", "attempts", "sent_at", "short_error"]
    list_filter = ["state", "kind"]
    search_fields = ["key", "target"]
    readonly_fields = ("kind", "key", "target", "data", "due_at", "state", "claimed_at", "claimed_by", "lease_until",
                       "attempts", "sent_at", "recipients", "last_error", "created_at")
    fields = readonly_fields
    inlines = [NotificationInline]
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
