from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from customer_links.models import CustomerLink


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
