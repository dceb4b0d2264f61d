"""Adding and editing an account's contacts, and marking one as having left."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.exceptions import Conflict
from core.http import posted
from crm import duplicates, permissions, services
from crm.forms import ContactForm, add_service_errors
from flows import actions as flows


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_edit_account(request.user, account)
    if account.merged_into_id is not None:
        return redirect("crm:account_detail", pk=account.pk)  # which leads to the survivor
    form = ContactForm(posted(request))
    found = None
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        found = duplicates.contact_duplicates(user=request.user, email=data.get("email", ""))
        if not found or request.POST.get("confirm_duplicate") == "1":
            try:
                contact = services.contact_create(account=account, by=request.user, **data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Contact {contact.full_name} added.")
                return redirect("crm:account_detail", pk=account.pk)
    context = {"form": form, "account": account, "contact": None, "duplicates": found}
    return render(request, "crm/contact_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = permissions.get_contact_for(request.user, pk)
    account = contact.account
    if contact.merged_into_id is not None:
        messages.info(request, f"{contact.full_name} was merged into another contact: edit that one.")
        return redirect("crm:account_detail", pk=account.pk)
    permissions.require_can_edit_account(request.user, account)
    form = ContactForm(posted(request), instance=permissions.get_contact_for(request.user, pk))
    if request.method == "POST" and form.is_valid():
        try:
            flows.contact_update(contact=contact, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Contact {contact.full_name} saved.")
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/contact_form.html", {"form": form, "account": account, "contact": contact})


@login_required
@require_POST
def contact_left(request: HttpRequest, pk: int) -> HttpResponse:
    """One click for the common case: the person has left the customer's organisation."""
    contact = permissions.get_contact_for(request.user, pk)
    permissions.require_can_edit_account(request.user, contact.account)
    try:
        flows.contact_update(contact=contact, by=request.user, is_active=False, is_primary=False)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except Conflict as exc:  # merged into another contact
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{contact.full_name} marked as having left the organisation.")
    return redirect("crm:account_detail", pk=contact.account_id)
