"""The staff pages of delivery: "my deliveries", the project's stage board and the stage
actions, the problems list, raising a problem and the problem page, and the customer portal link.

Same rules as crm.views and handover.views: objects come through delivery.permissions (404 for
what the user may not see), role checks answer 403, writes go only through delivery.services
(field messages from their ValidationError, a 409 page or message from their Conflict). GET never
changes anything; every action URL takes POST only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Prefetch, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.exceptions import Conflict
from core.http import conflict_response
from core.http import next_url as _next
from core.pagination import CappedPaginator
from crm import roles
from crm.forms import add_service_errors
from crm.models import Account, Activity
from crm.permissions import get_account_for
from customer_links.models import CustomerLink
from delivery import permissions, selectors, services
from delivery.forms import (
    DeliveriesFilterForm,
    PortalLinkForm,
    ProblemFilterForm,
    ProblemForm,
    ReopenForm,
    ResolveForm,
    SignoffRequestForm,
    StageEditForm,
    portal_contacts,
)
from delivery.models import Problem, Project, SignOff, Stage
from flows import actions as flows
from handover.models import Promise

ROWS_PER_PAGE = 50
PROJECT_PROBLEMS = 50  # the project page shows the latest; the problems list has them all
PROJECT_HISTORY = 40


# --- Small helpers --------------------------------------------------------------------------


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None



def _project_url(project_id: int, stage_id: int | None = None) -> str:
    url = reverse("delivery:project_detail", args=[project_id])
    return f"{url}#stage-{stage_id}" if stage_id else url


def _conflict(request: HttpRequest, exc: Conflict, back: str) -> HttpResponse:
    # Without htmx, a page saying what happened and the way back rather than a flash message.
    return conflict_response(request, exc, back, page="delivery/conflict.html")


def _role_label(stage: Stage) -> str:
    return stage.get_signer_role_display().lower() if stage.signer_role else "any"


# --- My deliveries --------------------------------------------------------------------------


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


# --- Stage actions --------------------------------------------------------------------------


def _stage_for_action(request: HttpRequest, pk: int) -> Stage:
    stage = permissions.get_stage_for(request.user, pk)
    permissions.require_can_run_delivery(request.user, stage.project)
    return stage


@login_required
@require_POST
def stage_start(request: HttpRequest, pk: int) -> HttpResponse:
    stage = _stage_for_action(request, pk)
    try:
        services.stage_start(stage=stage, by=request.user)
    except Conflict as exc:
        return _conflict(request, exc, _project_url(stage.project_id, stage.pk))
    messages.success(request, f"Stage {stage.name} started.")
    return HttpResponseRedirect(_project_url(stage.project_id, stage.pk))


@login_required
@require_POST
def stage_complete(request: HttpRequest, pk: int) -> HttpResponse:
    stage = _stage_for_action(request, pk)
    try:
        flows.stage_complete(stage=stage, by=request.user)
    except Conflict as exc:
        return _conflict(request, exc, _project_url(stage.project_id, stage.pk))
    project = Project.objects.get(pk=stage.project_id)
    if project.state == Project.State.COMPLETE:
        messages.success(request, f"Stage {stage.name} done; the delivery is complete.")
    else:
        messages.success(request, f"Stage {stage.name} done.")
    return HttpResponseRedirect(_project_url(stage.project_id, stage.pk))


@login_required
@require_http_methods(["GET", "POST"])
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    stage = _stage_for_action(request, pk)
    project = stage.project
    back = _project_url(project.pk, stage.pk)
    if project.state != Project.State.ACTIVE:
        return _conflict(request, Conflict("The delivery is complete; its stages no longer change."), back)
    promises = list(Promise.objects.filter(deal_id=project.deal_id).select_related("made_by", "deal").order_by("pk"))
    current = list(stage.promises.order_by("pk").values_list("pk", flat=True))
    form = StageEditForm(_posted(request), promises=promises, initial=StageEditForm.initial_for(stage, current))
    if request.method == "POST" and form.is_valid():
        try:
            # One change: if the promises are refused, the dates and texts are not saved either.
            with transaction.atomic():
                services.stage_update(stage=stage, by=request.user, **form.stage_data())
                services.stage_set_promises(stage=stage, by=request.user, promises=form.cleaned_data["promises"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, back)
        else:
            messages.success(request, f"Stage {stage.name} saved.")
            return HttpResponseRedirect(back)
    status = 400 if form.is_bound else 200
    return render(
        request, "delivery/stage_form.html",
        {"stage": stage, "project": project, "account": stage.account, "form": form, "back": back,
         "has_promises": bool(promises)},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def stage_request_signoff(request: HttpRequest, pk: int) -> HttpResponse:
    stage = _stage_for_action(request, pk)
    project = stage.project
    back = _project_url(project.pk, stage.pk)
    if request.method == "GET":
        # The same rules the service applies, so the form is not offered when it cannot work.
        if project.state != Project.State.ACTIVE:
            return _conflict(request, Conflict("The delivery is complete; its stages no longer change."), back)
        if not stage.needs_signoff:
            return _conflict(request, Conflict("This stage is completed by the delivery owner; it has no customer "
                                               "sign-off."), back)
        if stage.state not in (Stage.State.IN_PROGRESS, Stage.State.AWAITING_SIGNOFF):
            return _conflict(request, Conflict(f"The stage is {stage.get_state_display().lower()}; start it before "
                                               "asking for sign-off."), back)
    signers = list(services.signer_choices(stage).order_by("first_name", "last_name"))
    form = SignoffRequestForm(
        _posted(request), signers=signers, role=_role_label(stage),
        initial={"delivered": stage.delivered, "contact": stage.signer_id},
    )
    if request.method == "POST" and form.is_valid():
        contact = form.cleaned_data["contact"]
        try:
            services.stage_request_signoff(
                stage=stage, by=request.user, contact=contact, delivered=form.cleaned_data["delivered"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, back)
        else:
            messages.success(
                request,
                f"Sign-off of {stage.name} requested from {contact.full_name}; the link is on its way by email.",
            )
            return HttpResponseRedirect(back)
    last_link = selectors.latest_link(CustomerLink.Purpose.SIGNOFF, CustomerLink.target_of(stage))
    return render(
        request, "delivery/signoff_request.html",
        {"stage": stage, "project": project, "account": stage.account, "form": form, "back": back,
         "signers": signers, "role": _role_label(stage), "last_link": last_link,
         "link_status": selectors.link_status(last_link), "link_days": settings.KEEPWARM["SIGNOFF_LINK_DAYS"],
         "promises": list(stage.promises.order_by("pk"))},
        status=400 if form.is_bound else 200,
    )


# --- Problems -------------------------------------------------------------------------------


@login_required
@require_GET
def problem_list(request: HttpRequest) -> HttpResponse:
    form = ProblemFilterForm(request.GET or None)
    problems = Problem.objects.visible_to(request.user).select_related(
        "account", "account__owner", "project__deal", "raised_by"
    )
    filtered = False
    if form.is_bound:
        form.is_valid()  # invalid fields are reported and ignored; valid ones still filter
        data = getattr(form, "cleaned_data", {})
        for name in ("state", "severity", "category", "source"):
            if data.get(name):
                problems = problems.filter(**{name: data[name]})
                filtered = True
        if (data.get("q") or "").strip():
            problems = problems.filter(account__name__icontains=data["q"].strip())
            filtered = True
        if data.get("owner"):
            problems = problems.filter(account__owner=data["owner"])
            filtered = True
        if data.get("account"):
            problems = problems.filter(account_id=data["account"])
            filtered = True
    page = CappedPaginator(problems.order_by("-raised_at", "-pk"), ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "delivery/problem_list.html", {"form": form, "page": page, "filtered": filtered})


@login_required
@require_http_methods(["GET", "POST"])
def problem_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for(request.user, pk)
    permissions.require_can_raise_problem(request.user, account)
    promises = list(
        Promise.objects.filter(account=account).select_related("made_by", "deal").order_by("deal_id", "pk")
    )
    projects = list(Project.objects.filter(account=account).select_related("deal").order_by("-started_at", "-pk"))
    initial_project = request.GET.get("project")
    form = ProblemForm(
        _posted(request), promises=promises, projects=projects,
        initial={"project": initial_project if initial_project in {str(p.pk) for p in projects} else ""},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            problem = services.problem_raise(
                account=account, by=request.user, title=data["title"], description=data["description"],
                category=data["category"], severity=data["severity"], promises=data["promises"],
                project=data["project"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            broken = ""
            if data["promises"] and problem.breaks_promises:
                broken = " " + ngettext(
                    "Its promise is marked broken.", "Its promises are marked broken.", len(data["promises"])
                )
            messages.success(request, f"Problem raised.{broken}")
            return HttpResponseRedirect(reverse("delivery:problem_detail", args=[problem.pk]))
    return render(
        request, "delivery/problem_form.html",
        {"account": account, "form": form, "has_promises": bool(promises)},
        status=400 if form.is_bound else 200,
    )


def _problem_context(request: HttpRequest, problem: Problem, **forms: Any) -> dict[str, Any]:
    user: Any = request.user
    can_work = permissions.can_work_problem(user, problem)
    can_reopen = permissions.can_raise_problem(user, problem.account)
    timeline = Activity.objects.filter(
        account_id=problem.account_id, event_type__startswith="delivery.problem.", data__problem=problem.pk
    ).timeline()[:100]
    return {
        "problem": problem,
        "account": problem.account,
        "attribution": services.problem_attribution(problem),
        "timeline": list(timeline),
        "can_resolve": can_work and problem.state == Problem.State.OPEN,
        "can_close": can_work and problem.state == Problem.State.RESOLVED,
        "can_reopen": can_reopen and problem.state in (Problem.State.RESOLVED, Problem.State.CLOSED),
        "resolve_form": forms.get("resolve_form") or ResolveForm(),
        "reopen_form": forms.get("reopen_form") or ReopenForm(),
    }


@login_required
@require_GET
def problem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    problem = permissions.get_problem_for(request.user, pk)
    return render(request, "delivery/problem_detail.html", _problem_context(request, problem))


def _problem_url(problem: Problem) -> str:
    return reverse("delivery:problem_detail", args=[problem.pk])


@login_required
@require_POST
def problem_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    problem = permissions.get_problem_for(request.user, pk)
    permissions.require_can_work_problem(request.user, problem)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            services.problem_resolve(problem=problem, by=request.user, resolution=form.cleaned_data["resolution"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, _problem_url(problem))
        else:
            messages.success(request, "Problem resolved.")
            return HttpResponseRedirect(_problem_url(problem))
    return render(
        request, "delivery/problem_detail.html", _problem_context(request, problem, resolve_form=form), status=400
    )


@login_required
@require_POST
def problem_close(request: HttpRequest, pk: int) -> HttpResponse:
    problem = permissions.get_problem_for(request.user, pk)
    permissions.require_can_work_problem(request.user, problem)
    try:
        services.problem_close(problem=problem, by=request.user)
    except Conflict as exc:
        return _conflict(request, exc, _problem_url(problem))
    messages.success(request, "Problem closed.")
    return HttpResponseRedirect(_problem_url(problem))


@login_required
@require_POST
def problem_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    problem = permissions.get_problem_for(request.user, pk)
    permissions.require_can_raise_problem(request.user, problem.account)
    form = ReopenForm(request.POST)
    if form.is_valid():
        try:
            services.problem_reopen(problem=problem, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, _problem_url(problem))
        else:
            messages.success(request, "Problem reopened.")
            return HttpResponseRedirect(_problem_url(problem))
    return render(
        request, "delivery/problem_detail.html", _problem_context(request, problem, reopen_form=form), status=400
    )


# --- The customer portal link ---------------------------------------------------------------


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
