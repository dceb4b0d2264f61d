from __future__ import annotations

from django.contrib import admin

from saved_views.models import SavedView


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    """Read-only: views change through saved_views.services (sharing is recorded in each view's
    History, and under Recent actions)."""

    list_display = ["name", "list_name", "user", "shared", "created_at"]
    list_filter = ["shared", "list_name"]
    search_fields = ["name", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ("user", "list_name", "name", "query", "shared", "created_at")
    fields = readonly_fields

    def has_add_permission(self, request: object) -> bool:
        return False
