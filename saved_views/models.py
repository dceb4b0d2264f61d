"""A user's saved filters and sort of a list page, under a name; a manager may share one with the
team. A personal preference: no event row on the timeline (sharing is logged in the admin's
history, see services)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from core.text import SingleLineCharField

# The list pages a view may be saved on: their URL names, and what the bar calls them. Named by
# string, so this app imports none of the apps above it.
LISTS = {
    "crm:account_list": "Accounts",
    "crm:contact_list": "Contacts",
    "crm:deal_list": "Deals",
    "delivery:problem_list": "Problems",
}
QUERY_MAX_LENGTH = 1000
NAME_MAX_LENGTH = 80


class SavedViewQuerySet(models.QuerySet["SavedView"]):
    def owned_by(self, user: Any) -> SavedViewQuerySet:
        return self.filter(user_id=user.pk)

    def readable_by(self, user: Any) -> SavedViewQuerySet:
        """The user's own views and the ones shared with the team."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(Q(user_id=user.pk) | Q(shared=True))

    def on_list(self, list_name: str) -> SavedViewQuerySet:
        return self.filter(list_name=list_name)


class SavedView(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    list_name = models.CharField("list", max_length=60, choices=list(LISTS.items()))
    name = SingleLineCharField(max_length=NAME_MAX_LENGTH)
    # The list's query string, filters and sort, without the page (services.normalise_query).
    query = models.CharField(max_length=QUERY_MAX_LENGTH, blank=True)
    # Visible to everyone who can open the list; only managers share (services.saved_view_share).
    shared = models.BooleanField("shared with the team", default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # "Pipeline" and "pipeline" are the same name to the person choosing one.
            models.UniqueConstraint(Lower("name"), "user", "list_name", name="saved_view_name_per_user_and_list"),
        ]
        indexes = [
            models.Index(fields=["list_name", "name"], name="saved_view_shared", condition=Q(shared=True)),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        """The list page with the saved filters and sort."""
        base = reverse(self.list_name)
        return f"{base}?{self.query}" if self.query else base
