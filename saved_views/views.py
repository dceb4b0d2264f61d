"""The saved views bar's actions: save the list being looked at, rename, share, delete. Each
answers with the list page (the view's, or the one it came from) and a message; what the
service refuses comes back as a message naming the field, and nothing is saved."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from saved_views import permissions, services
from saved_views.forms import RenameForm, SavedViewForm
from saved_views.models import LISTS, SavedView

LABELS = {"name": "Name", "query": "Filters", "list_name": "List", "shared": "Share with the team"}


def _report(request: HttpRequest, errors: dict[str, list[str]]) -> None:
    for field, problems in errors.items():
        label = LABELS.get(field, "")
        for problem in problems:
            messages.error(request, f"{label}: {problem}" if label else problem)


def _form_errors(form: forms.Form) -> dict[str, list[str]]:
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


def _back(list_name: str, query: str = "") -> HttpResponseRedirect:
    base = reverse(list_name) if list_name in LISTS else reverse("crm:home")
    try:
        query = services.normalise_query(query)
    except ValidationError:
        query = ""
    return HttpResponseRedirect(f"{base}?{query}" if query else base)


@login_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    list_name = request.POST.get("list_name", "")
    query = request.POST.get("query", "")
    if not form.is_valid():
        _report(request, _form_errors(form))
        return _back(list_name, query)
    try:
        view = services.saved_view_create(by=request.user, **form.cleaned_data)
    except ValidationError as exc:
        _report(request, exc.message_dict)
        return _back(list_name, query)
    shared = " and shared with the team" if view.shared else ""
    messages.success(request, f"View \u201c{view.name}\u201d saved{shared}.")
    return HttpResponseRedirect(view.url)


@login_required
@require_POST
def saved_view_rename(request: HttpRequest, pk: int) -> HttpResponse:
    view = permissions.get_own_view_for(request.user, pk)
    form = RenameForm(request.POST)
    if not form.is_valid():
        _report(request, _form_errors(form))
        return HttpResponseRedirect(view.url)
    try:
        view = services.saved_view_rename(view=view, by=request.user, name=form.cleaned_data["name"])
    except ValidationError as exc:
        _report(request, exc.message_dict)
    else:
        messages.success(request, f"View renamed \u201c{view.name}\u201d.")
    return HttpResponseRedirect(view.url)


@login_required
@require_POST
def saved_view_share(request: HttpRequest, pk: int) -> HttpResponse:
    view = permissions.get_own_view_for(request.user, pk)
    permissions.require_can_share(request.user)
    shared = request.POST.get("shared") == "on"
    view = services.saved_view_share(view=view, by=request.user, shared=shared)
    messages.success(
        request, f"View \u201c{view.name}\u201d {'shared with the team' if view.shared else 'is yours alone again'}."
    )
    return HttpResponseRedirect(view.url)


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view: SavedView = permissions.get_own_view_for(request.user, pk)
    list_name, name = view.list_name, view.name
    services.saved_view_delete(view=view, by=request.user)
    messages.success(request, f"View \u201c{name}\u201d deleted.")
    return HttpResponseRedirect(reverse(list_name))
