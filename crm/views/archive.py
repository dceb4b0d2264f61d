"""Archiving and restoring an account or a contact (one button each, on the account page)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from core.exceptions import Conflict
from crm import permissions, services


def _run(request: HttpRequest, service: Any, done: str, **target: Any) -> bool:
    try:
        service(by=request.user, **target)
    except Conflict as exc:
        messages.error(request, str(exc))
        return False
    messages.success(request, done)
    return True


@login_required
@require_POST
def account_archive(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_archive(request.user, account)
    _run(request, services.account_archive,
         f"{account.name} archived: it no longer shows in lists and search. Restore it from its page.",
         account=account)
    return redirect("crm:account_detail", pk=account.pk)


@login_required
@require_POST
def account_restore(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_archive(request.user, account)
    _run(request, services.account_restore, f"{account.name} restored.", account=account)
    return redirect("crm:account_detail", pk=account.pk)


@login_required
@require_POST
def contact_archive(request: HttpRequest, pk: int) -> HttpResponse:
    contact = permissions.get_contact_for(request.user, pk)
    permissions.require_can_archive(request.user, contact.account)
    _run(request, services.contact_archive, f"{contact.full_name} archived.", contact=contact)
    return redirect("crm:account_detail", pk=contact.account_id)


@login_required
@require_POST
def contact_restore(request: HttpRequest, pk: int) -> HttpResponse:
    contact = permissions.get_contact_for(request.user, pk)
    permissions.require_can_archive(request.user, contact.account)
    _run(request, services.contact_restore, f"{contact.full_name} restored.", contact=contact)
    return redirect("crm:account_detail", pk=contact.account_id)
