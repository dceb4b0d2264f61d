"""The customer portal link, sent and revoked from the account page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.http import next_url as _next
from crm.forms import add_service_errors
from crm.models import Account
from crm.permissions import get_account_for
from delivery import selectors, services
from delivery.forms import PortalLinkForm, portal_contacts


def _portal_account(request: HttpRequest, pk: int) -> Account:
    account = get_account_for(request.user, pk)
    if not selectors.can_send_portal_link(request.user, account):
        raise PermissionDenied("Only the account team sends and revokes portal links.")
    return account


@login_required
@require_POST
def portal_link_send(request: HttpRequest, pk: int) -> HttpResponse:
    account = _portal_account(request, pk)
    back = _next(request, reverse("crm:account_detail", args=[account.pk]))
    form = PortalLinkForm(request.POST, contacts=portal_contacts(account.pk))
    if form.is_valid():
        contact = form.cleaned_data["contact"]
        try:
            services.portal_link_issue(account=account, by=request.user, contact=contact)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"Portal link sent to {contact.full_name}; any earlier portal link no longer works."
            )
            return HttpResponseRedirect(back)
    return render(request, "delivery/portal_link.html", {"account": account, "form": form, "back": back}, status=400)


@login_required
@require_POST
def portal_link_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    account = _portal_account(request, pk)
    back = _next(request, reverse("crm:account_detail", args=[account.pk]))
    if services.portal_link_revoke(account=account, by=request.user):
        messages.success(request, "Portal link revoked: it no longer opens the portal.")
    else:
        messages.info(request, "There was no live portal link to revoke.")
    return HttpResponseRedirect(back)
