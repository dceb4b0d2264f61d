"""Merging a duplicate account into another (choose the survivor, see what moves, confirm),
and a duplicate contact into another of the same account."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.exceptions import Conflict
from crm import duplicates, permissions, services
from crm.duplicate_keys import name_key
from crm.forms import MergeSearchForm
from crm.models import Account, Contact
from crm.views.shared import int_or_none
from flows import actions as flows

CHOICES_SHOWN = 20


def _survivor_choices(user: Any, account: Account, q: str) -> list[Account]:
    """Visible live accounts by name (the likely duplicates when nothing is typed yet)."""
    if not q:
        found = duplicates.account_duplicates(user=user, name=account.name, website=account.website,
                                              exclude=account.pk)
        return [a for a in found.visible if a.archived_at is None]
    key = name_key(q)
    matches = Q(name__icontains=q) | (Q(name_key__startswith=key) if key else Q(pk__in=[]))
    return list(
        Account.objects.visible_to(user).live().filter(matches).exclude(pk=account.pk)
        .select_related("owner").order_by("name", "pk")[:CHOICES_SHOWN]
    )


def _errors(exc: ValidationError) -> list[str]:
    return [m for messages_ in exc.message_dict.values() for m in messages_] if hasattr(exc, "error_dict") \
        else list(exc.messages)


@login_required
@require_http_methods(["GET", "POST"])
def account_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: search the survivor. POST `into`: what will move, to confirm. POST `into` and
    `confirm=1`: the merge, then the survivor's page."""
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_merge(request.user)
    if account.merged_into_id is not None:
        messages.error(request, f"{account.name} was already merged into another account.")
        return redirect("crm:account_detail", pk=account.pk)
    search = MergeSearchForm(request.GET)
    q = (search.cleaned_data.get("q") or "").strip() if search.is_valid() else ""
    context: dict[str, Any] = {"account": account, "q": q, "errors": [], "search": search}
    if request.method == "POST":
        into = Account.objects.visible_to(request.user).select_related("owner").filter(
            pk=int_or_none(request.POST.get("into")) or 0
        ).first()
        try:
            services.account_merge_check(account=account, into=into, by=request.user)
            if request.POST.get("confirm") == "1":
                survivor = flows.account_merge(account=account, into=into, by=request.user)  # type: ignore[arg-type]
                messages.success(request, f"{account.name} merged into {survivor.name}: its contacts, deals, "
                                          "history and delivery are on this page now.")
                return redirect("crm:account_detail", pk=survivor.pk)
        except ValidationError as exc:
            context["errors"] = _errors(exc)
        except Conflict as exc:
            context["errors"] = [str(exc)]
        else:
            context.update(into=into, moving=services.rows_pointing_at(account))
            return render(request, "crm/account_merge_confirm.html", context)
    context["choices"] = _survivor_choices(request.user, account, q)
    return render(request, "crm/account_merge.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def contact_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the other contact of the same account who is the same person, see what moves,
    confirm."""
    contact = permissions.get_contact_for(request.user, pk)
    permissions.require_can_merge(request.user)
    account = contact.account
    if contact.merged_into_id is not None:
        messages.error(request, f"{contact.full_name} was already merged into another contact.")
        return redirect("crm:account_detail", pk=account.pk)
    choices = list(Contact.objects.filter(account=account).live().exclude(pk=contact.pk).order_by("first_name", "pk"))
    context: dict[str, Any] = {"contact": contact, "account": account, "choices": choices, "errors": []}
    if request.method == "POST":
        chosen = int_or_none(request.POST.get("into"))
        into = next((c for c in choices if c.pk == chosen), None)
        try:
            services.contact_merge_check(contact=contact, into=into, by=request.user)
            if request.POST.get("confirm") == "1":
                survivor = flows.contact_merge(contact=contact, into=into, by=request.user)  # type: ignore[arg-type]
                messages.success(request, f"{contact.full_name} merged into {survivor.full_name}.")
                return redirect("crm:account_detail", pk=account.pk)
        except ValidationError as exc:
            context["errors"] = _errors(exc)
        except Conflict as exc:
            context["errors"] = [str(exc)]
        else:
            context.update(into=into, moving=services.rows_pointing_at(contact))
            return render(request, "crm/contact_merge_confirm.html", context)
    return render(request, "crm/contact_merge.html", context)
