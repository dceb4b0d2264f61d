"""People: the administrators' list of vendor users, deactivating one (their book to a
successor), and one's own profile."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from core import time_zones as core_time_zones
from core.exceptions import Conflict
from core.http import posted
from core.names import name_of
from crm import permissions, services
from crm.forms import DeactivateForm, ProfileForm, add_service_errors
from crm.models import Account, UserProfile
from crm.views.shared import conflict
from flows import actions as flows

User = get_user_model()


@login_required
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    permissions.require_can_manage_users(request.user)
    people = (
        User.objects.annotate(account_count=Count("owned_accounts", distinct=True))
        .prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name")))
        .filter(Q(groups__isnull=False) | Q(account_count__gt=0))
        .distinct()
        .order_by("-is_active", "first_name", "username")
    )
    return render(request, "crm/user_list.html", {"people": people})


@login_required
@require_http_methods(["GET", "POST"])
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require_can_manage_users(request.user)
    person = get_object_or_404(User, pk=pk)
    owned = Account.objects.owned_by(person).count()
    form = DeactivateForm(posted(request), user=person)
    if request.method == "POST" and form.is_valid():
        try:
            plan = flows.user_deactivate(
                user=person, by=request.user, successor=form.cleaned_data["successor"], note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, reverse("crm:user_list"))
        else:
            moved = " " + ngettext(
                "%(count)d account went to %(to)s.", "%(count)d accounts went to %(to)s.", len(plan.changes)
            ) % {"count": len(plan.changes), "to": name_of(form.cleaned_data["successor"])} if plan else ""
            messages.success(request, f"{name_of(person)} is deactivated; their sessions and API tokens ended.{moved}")
            return redirect("crm:user_list")
    return render(request, "crm/user_deactivate.html", {"form": form, "person": person, "owned": owned})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    # Unsaved when missing: a GET must not write (the user-created receiver normally made it).
    user: Any = request.user
    instance = UserProfile.objects.filter(user=user).first() or UserProfile(user=user)
    form = ProfileForm(posted(request), instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.profile_update(user=request.user, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            # The session keeps the zone pages are shown in: the next page is in the new one.
            core_time_zones.remember_zone(request, saved.time_zone)
            messages.success(request, "Profile saved.")
            return redirect("crm:profile")
    return render(request, "crm/profile.html", {"form": form})
