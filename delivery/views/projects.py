""""My deliveries", and the project page with its stage board, problems, portal link and
history."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Case, IntegerField, Prefetch, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.pagination import CappedPaginator
from crm import roles
from crm.models import Activity
from customer_links.models import CustomerLink
from delivery import permissions, selectors
from delivery.forms import DeliveriesFilterForm, PortalLinkForm, portal_contacts
from delivery.models import Problem, Project, SignOff, Stage
from delivery.views.shared import ROWS_PER_PAGE
from handover.models import Promise

PROJECT_PROBLEMS = 50  # the project page shows the latest; the problems list has them all
PROJECT_HISTORY = 40


@login_required
@require_GET
def my_deliveries(request: HttpRequest) -> HttpResponse:
    """The delivery owner's projects, active first, with their progress. Delivery managers and
    administrators see everyone's, with an owner filter."""
    user: Any = request.user
    sees_all = roles.has_role(user, roles.DELIVERY_MANAGER, roles.ADMINISTRATOR)
    projects = Project.objects.visible_to(user).select_related("account", "deal", "owner")
    form = None
    filtered = False
    if sees_all:
        form = DeliveriesFilterForm(request.GET or None)
        if form.is_bound:
            form.is_valid()  # invalid fields are reported and ignored
            data = getattr(form, "cleaned_data", {})
            if data.get("owner"):
                projects = projects.filter(owner=data["owner"])
            if data.get("state"):
                projects = projects.filter(state=data["state"])
            filtered = bool(data.get("owner") or data.get("state"))
    else:
        projects = projects.filter(owner=user)
    page = CappedPaginator(selectors.active_first(selectors.with_progress(projects)), ROWS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    selectors.mark_overdue(list(page.object_list))
    return render(
        request, "delivery/my_deliveries.html",
        {"page": page, "form": form, "sees_all": sees_all, "filtered": filtered},
    )


# --- The project's stage board --------------------------------------------------------------


def _board(project: Project, user: Any) -> list[Stage]:
    """The stages with their promises, sign-off history and last sign-off link (four queries)."""
    stages = list(
        project.stages.select_related("signer")
        .prefetch_related(
            Prefetch("promises", queryset=Promise.objects.select_related("made_by").order_by("pk")),
            Prefetch("signoffs", queryset=SignOff.objects.select_related("contact").order_by("created_at", "pk")),
        )
        .order_by("position")
    )
    targets = {CustomerLink.target_of(stage): stage for stage in stages}
    last_links: dict[str, CustomerLink] = {}
    sent = CustomerLink.objects.filter(purpose=CustomerLink.Purpose.SIGNOFF, target__in=list(targets))
    for sent_link in sent.order_by("-created_at", "-pk").select_related("contact"):
        last_links.setdefault(sent_link.target, sent_link)
    today = timezone.localdate()
    runs = permissions.can_run_delivery(user, project) and project.state == Project.State.ACTIVE
    for stage in stages:
        link = last_links.get(CustomerLink.target_of(stage))
        stage.last_link = link  # type: ignore[attr-defined]
        stage.link_status = selectors.link_status(link)  # type: ignore[attr-defined]
        stage.overdue = bool(stage.due_date and stage.due_date < today and not stage.is_final)  # type: ignore[attr-defined]
        stage.can_start = runs and stage.state in (Stage.State.PLANNED, Stage.State.CHANGES_REQUESTED)  # type: ignore[attr-defined]
        stage.can_complete = runs and not stage.needs_signoff and stage.state == Stage.State.IN_PROGRESS  # type: ignore[attr-defined]
        stage.can_request = runs and stage.needs_signoff and stage.state in (  # type: ignore[attr-defined]
            Stage.State.IN_PROGRESS, Stage.State.AWAITING_SIGNOFF,
        )
        stage.can_edit = runs  # type: ignore[attr-defined]
    return stages


def _project_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    user: Any = request.user
    account = project.account
    stages = _board(project, user)
    problems = list(
        Problem.objects.filter(project=project)
        .select_related("raised_by")
        .annotate(open_first=Case(When(state=Problem.State.OPEN, then=Value(0)), default=Value(1),
                                  output_field=IntegerField()))
        .order_by("open_first", "-raised_at", "-pk")[:PROJECT_PROBLEMS]
    )
    can_raise = permissions.can_raise_problem(user, account)
    can_portal = selectors.can_send_portal_link(user, account, can_raise=can_raise)
    portal_link = selectors.latest_link(CustomerLink.Purpose.PORTAL, CustomerLink.target_of(account))
    history = Activity.objects.filter(
        account_id=project.account_id, deal_id=project.deal_id, event_type__startswith="delivery."
    ).timeline()[:PROJECT_HISTORY]
    done = sum(1 for s in stages if s.is_final)
    return {
        "project": project,
        "account": account,
        "deal": project.deal,
        "stages": stages,
        "done": done,
        "percent": round(100 * done / len(stages)) if stages else 0,
        "can_run": permissions.can_run_delivery(user, project),
        "problems": problems,
        "can_raise": can_raise,
        "portal": {
            "form": extra.pop("portal_form", None) or PortalLinkForm(contacts=portal_contacts(account.pk)),
            "link": portal_link,
            "status": selectors.link_status(portal_link),
        } if can_portal else None,
        "history": list(history),
        **extra,
    }


@login_required
@require_GET
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = permissions.get_project_for(request.user, pk)
    return render(request, "delivery/project_detail.html", _project_context(request, project))
