"""Admin: plan templates are edited here by administrators; projects, stages, sign-offs and
problems are read-only (they change through the delivery pages or API, so events and emails happen)."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin, ReadOnlyInline
from delivery.models import PlanTemplate, PlanTemplateStage, Problem, Project, SignOff, Stage


class PlanTemplateStageInline(admin.TabularInline):
    model = PlanTemplateStage
    extra = 1
    fields = ["position", "name", "description", "needs_signoff", "signer_role", "duration_days"]


@admin.register(PlanTemplate)
class PlanTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "created_at"]
    list_filter = ["is_active"]
    inlines = [PlanTemplateStageInline]

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Projects keep their template (PROTECT); retire one by unticking "active".
        return obj is None or not obj.projects.exists()


class StageInline(ReadOnlyInline):
    model = Stage
    fields = ["position", "name", "state", "due_date", "signer", "signed_off_at", "done_at"]


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ["deal", "account", "owner", "template", "state", "started_at", "completed_at"]
    list_filter = ["state", "template"]
    search_fields = ["deal__name", "account__name"]
    list_select_related = ["deal", "account", "owner", "template"]
    inlines = [StageInline]


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ["stage", "decision", "typed_name", "contact", "ip_address", "created_at"]
    list_filter = ["decision"]
    list_select_related = ["stage", "contact"]


@admin.register(Problem)
class ProblemAdmin(ReadOnlyAdmin):
    list_display = ["title", "account", "category", "severity", "state", "source", "raised_at", "resolved_at"]
    list_filter = ["state", "severity", "category", "source"]
    search_fields = ["title", "account__name"]
    list_select_related = ["account"]
