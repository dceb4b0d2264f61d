"""Admin for support: promises, reviews and handovers are read-only here. Every change goes
through the handover pages or API (the services), so the reviews, events and emails happen."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin, ReadOnlyInline
from handover.models import Handover, HandoverContact, Promise, PromiseReview


class PromiseReviewInline(ReadOnlyInline):
    model = PromiseReview
    fields = ["kind", "verdict", "comment", "reviewer", "created_at"]


@admin.register(Promise)
class PromiseAdmin(ReadOnlyAdmin):
    list_display = ["description", "kind", "state", "made_by", "deal", "made_at"]
    list_filter = ["state", "kind", "source"]
    search_fields = ["description", "deal__name", "account__name"]
    list_select_related = ["made_by", "deal"]
    inlines = [PromiseReviewInline]


class HandoverContactInline(ReadOnlyInline):
    model = HandoverContact
    fields = ["contact", "delivery_role"]


@admin.register(Handover)
class HandoverAdmin(ReadOnlyAdmin):
    list_display = ["deal", "account", "state", "rep", "delivery_owner", "accept_deadline", "escalated_at",
                    "acceptance_email_failed_at"]
    list_filter = ["state", ("acceptance_email_failed_at", admin.EmptyFieldListFilter)]
    # Not editable, so not in the form: listed to be seen (why the customer got no introduction).
    readonly_fields = ["escalated_at", "acceptance_notified_at", "acceptance_email_failed_at", "acceptance_email_error"]
    search_fields = ["deal__name", "account__name"]
    list_select_related = ["deal", "account", "rep", "delivery_owner"]
    inlines = [HandoverContactInline]
