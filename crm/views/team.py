"""Adding a person to the account team, and ending their seat."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.exceptions import Conflict
from core.http import posted
from crm import permissions, services
from crm.forms import TeamMemberForm, add_service_errors
from crm.models import Account, AccountTeamMember
from crm.views.shared import conflict


@login_required
@require_http_methods(["GET", "POST"])
def team_add(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_manage_team(request.user, account)
    form = TeamMemberForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            member = services.team_member_add(account=account, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{member.user.get_full_name() or member.user} joined the team.")
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/team_form.html", {"form": form, "account": account})


@login_required
@require_POST
def team_end(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(
        AccountTeamMember.objects.filter(account__in=Account.objects.visible_to(request.user)), pk=pk
    )
    back = reverse("crm:account_detail", args=[member.account_id])
    try:
        services.team_member_end(member=member, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except Conflict as exc:
        return conflict(request, exc, back)
    else:
        messages.success(request, "Team membership ended; it stays in the team history.")
    return HttpResponseRedirect(back)
