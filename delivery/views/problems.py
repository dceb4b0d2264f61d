"""Problems: the list, raising one on an account, its page, and resolving, closing and
reopening it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.csv_export import EXPORT_CHUNK, filename, streamed_csv
from core.exceptions import Conflict
from core.http import posted
from core.names import name_of, person_fields
from core.pagination import CappedPaginator
from crm.forms import add_service_errors
from crm.models import Activity
from crm.permissions import get_account_for
from delivery import permissions, selectors, services
from delivery.forms import ProblemFilterForm, ProblemForm, ReopenForm, ResolveForm
from delivery.models import Problem, Project
from delivery.views.shared import ROWS_PER_PAGE, conflict
from handover.models import Promise


def problem_filters(request: HttpRequest) -> tuple[ProblemFilterForm, dict[str, Any]]:
    """The problems list's filters from the query string, for the page and its CSV alike."""
    form = ProblemFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()  # invalid fields are reported and ignored; valid ones still filter
        data = getattr(form, "cleaned_data", {})
        filters = {name: data.get(name) or "" for name in ("state", "severity", "category", "source")}
        filters.update(q=(data.get("q") or "").strip(), owner=data.get("owner"), account=data.get("account"))
    return form, filters


@login_required
@require_GET
def problem_list(request: HttpRequest) -> HttpResponse:
    form, filters = problem_filters(request)
    problems = selectors.problem_list(user=request.user, **filters)
    page = CappedPaginator(problems, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "delivery/problem_list.html", {"form": form, "page": page, "filtered": any(filters.values())}
    )


PROBLEM_CSV_HEADER = [
    "Problem", "Category", "Severity", "State", "Raised from", "Account", "Account owner", "Delivery of",
    "Promises traced", "Promised by", "Raised", "Raised by", "Resolved", "Closed",
]


@login_required
@require_GET
def problem_export(request: HttpRequest) -> HttpResponseBase:
    """The problems list's rows as CSV: the same filters (invalid ones ignored, as the page
    does), every matching row, streamed; each problem's promises come with its chunk of rows."""
    _form, filters = problem_filters(request)
    promises = Promise.objects.select_related("made_by").only("description", *person_fields("made_by"))
    problems = (
        selectors.problem_list(user=request.user, **filters)
        .only(
            "title", "category", "severity", "state", "source", "raised_by_label", "raised_at", "resolved_at",
            "closed_at", "account__name", *person_fields("account__owner", "raised_by"), "project__deal__name",
        )
        .prefetch_related(Prefetch("promises", queryset=promises.order_by("made_at", "pk")))
    )
    def rows() -> Iterator[list[Any]]:
        for p in problems.iterator(chunk_size=EXPORT_CHUNK):
            traced = list(p.promises.all())
            yield [
                p.title, p.get_category_display(), p.get_severity_display(), p.get_state_display(),
                p.get_source_display(),
                p.account.name, name_of(p.account.owner), p.project.deal.name if p.project else "",
                "; ".join(promise.description for promise in traced),
                "; ".join(dict.fromkeys(name_of(promise.made_by) for promise in traced)),
                p.raised_at, name_of(p.raised_by) if p.raised_by else p.raised_by_label, p.resolved_at, p.closed_at,
            ]

    return streamed_csv(filename("problems"), PROBLEM_CSV_HEADER, rows())


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
        posted(request), promises=promises, projects=projects,
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
            return conflict(request, exc, _problem_url(problem))
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
        return conflict(request, exc, _problem_url(problem))
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
            return conflict(request, exc, _problem_url(problem))
        else:
            messages.success(request, "Problem reopened.")
            return HttpResponseRedirect(_problem_url(problem))
    return render(
        request, "delivery/problem_detail.html", _problem_context(request, problem, reopen_form=form), status=400
    )
