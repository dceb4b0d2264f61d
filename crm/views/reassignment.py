"""Reassigning one account, and a whole book to a successor (preview, then confirm)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from core.http import posted
from core.names import name_of
from crm import permissions
from crm.forms import BookReassignForm, ReassignForm, add_service_errors
from crm.views.shared import int_or_none
from flows import actions as flows


@login_required
@require_http_methods(["GET", "POST"])
def account_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_reassign(request.user)
    form = ReassignForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            change = flows.account_reassign(account=account, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"{account.name} now belongs to {name_of(change.to_user)}; they have been emailed."
            )
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/account_reassign.html", {"form": form, "account": account})


@login_required
@require_http_methods(["GET", "POST"])
def book_reassign(request: HttpRequest) -> HttpResponse:
    """Succession: choose whose book and who takes it, see the preview, then confirm."""
    permissions.require_can_reassign(request.user)
    if request.method == "GET":
        form = BookReassignForm(initial={"from_user": int_or_none(request.GET.get("from_user"))})
        return render(request, "crm/book_reassign.html", {"form": form})
    form = BookReassignForm(request.POST)
    confirm = request.POST.get("confirm") == "1"
    if form.is_valid():
        data = form.cleaned_data
        try:
            plan = flows.book_reassign(
                from_user=data["from_user"], to_user=data["to_user"], by=request.user,
                reason=data["reason"], note=data["note"], preview=not confirm,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if confirm:
                moved = ngettext(
                    "Moved %(count)d account from %(from)s to %(to)s",
                    "Moved %(count)d accounts from %(from)s to %(to)s",
                    len(plan.changes),
                ) % {"count": len(plan.changes), "from": name_of(data["from_user"]), "to": name_of(data["to_user"])}
                deals = ngettext(
                    "%(count)d open deal went with them.", "%(count)d open deals went with them.", plan.open_deal_count
                ) % {"count": plan.open_deal_count}
                messages.success(request, f"{moved}; {deals}")
                return redirect(f"{reverse('crm:account_list')}?owner={data['to_user'].pk}")
            return render(request, "crm/book_reassign_preview.html", {"form": form, "plan": plan, "data": data})
    return render(request, "crm/book_reassign.html", {"form": form})
