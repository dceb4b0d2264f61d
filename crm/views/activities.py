"""Logging a call, meeting, email or note on the account page, and one activity's page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from crm import permissions, services
from crm.forms import ActivityForm, add_service_errors
from crm.views.accounts import account_context


@login_required
@require_POST
def activity_log(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    form = ActivityForm(request.POST, account=account)
    if form.is_valid():
        try:
            activity = services.activity_log(account=account, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if request.htmx:  # type: ignore[attr-defined]
                # The fresh form replaces the old one; the new row goes on top of the timeline (oob).
                return render(
                    request, "crm/_activity_logged.html",
                    {"account": account, "activity_form": ActivityForm(account=account), "activity": activity},
                )
            messages.success(request, f"{activity.get_kind_display()} logged.")
            return redirect("crm:account_detail", pk=account.pk)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "crm/_activity_form.html", {"account": account, "activity_form": form})
    context = account_context(request, account)
    context["activity_form"] = form
    return render(request, "crm/account_detail.html", context, status=400)


@login_required
@require_GET
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    activity = permissions.get_activity_for(request.user, pk)
    return render(request, "crm/activity_detail.html", {"activity": activity, "account": activity.account})
