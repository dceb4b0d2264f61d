"""The saved views bar every list page shows: `{% load saved_views_ui %}{% saved_views_bar %}`.
The list is the page's own URL name; the views are the user's and the team's shared ones, in
one query."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import ValidationError

from saved_views import permissions, services
from saved_views.models import LISTS, SavedView

register = template.Library()

# More than anyone keeps on one list; the bar stays one line or two.
BAR_LIMIT = 40


@register.inclusion_tag("saved_views/_bar.html", takes_context=True)
def saved_views_bar(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    match = getattr(request, "resolver_match", None)
    list_name = match.view_name if match else ""
    if list_name not in LISTS or not user.is_authenticated:
        return {"show": False}
    try:
        current = services.normalise_query(request.GET.urlencode())
    except ValidationError:
        current = ""
    views = list(
        SavedView.objects.readable_by(user).on_list(list_name).select_related("user")
        .only("user_id", "list_name", "name", "query", "shared", "user__username", "user__first_name",
              "user__last_name")
        .order_by("-shared", "name", "pk")[:BAR_LIMIT]
    )
    mine = [v for v in views if v.user_id == user.pk]
    return {
        "show": True,
        "list_name": list_name,
        "list_label": LISTS[list_name],
        "mine": sorted(mine, key=lambda v: (v.name.lower(), v.pk)),
        "team": [v for v in views if v.shared and v.user_id != user.pk],
        "current": current,
        "can_share": permissions.can_share(user),
        "csrf_token": context.get("csrf_token"),
        "filtered": bool(current),
    }
