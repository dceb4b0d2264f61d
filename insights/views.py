"""The managers' dashboards (product.md section 5): reassignment, performance with each person's
page, early-life risk and delivery. Read-only pages: GET only, nothing here writes.

Every page reads its period and team from the query string (insights.forms), asks one selector
for its figures (insights.selectors, one module per dashboard), builds its tables once
(insights.tables) and renders them, or with `?format=csv&table=<name>` sends one of them as CSV
with the same filters. Permissions come from insights.permissions: 403 for a dashboard the user
may not see, 404 for another person's page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from crm import roles
from crm.models import OwnershipChange
from insights import charts, permissions, snapshots
from insights import tables as t
from insights.forms import PRESETS, Filters, filters_from
from insights.selectors import early_life
from insights.selectors.month_by_month import MonthPoint
from insights.selectors.person import person_page

REASONS = dict(OwnershipChange.Reason.choices)
RISK_PAGE_ROWS = snapshots.RISK_PAGE_ROWS


def _respond(
    request: HttpRequest, template: str, context: dict[str, Any], tables: list[t.Table], *, dashboard: str,
    filters: Filters,
) -> HttpResponse:
    """The page, or one of its tables as CSV (`?format=csv&table=<name>`, the first by default)."""
    by_name = t.by_name(tables)
    if request.GET.get("format") == "csv":
        name = request.GET.get("table") or tables[0].name
        if name not in by_name:
            raise Http404("No such table on this dashboard.")
        stamp = f"{filters.period.start:%Y%m%d}-{filters.period.end:%Y%m%d}"
        return t.csv_response(by_name[name], dashboard=dashboard, stamp=stamp)
    csv_base = f"{request.path}?{filters.query(format='csv')}"
    context.update({
        "tables": by_name, "csv_base": csv_base, "filters": filters, "query": filters.query(),
        "presets": [(days, filters.preset(days)) for days in PRESETS], "dashboard": dashboard,
        "sees_everyone": permissions.sees_everyone(request.user), "today": timezone.localdate(),
        "snapshot_max_age": snapshots.max_age(),
    })
    return render(request, template, context)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Managers land on the performance dashboard, reps and pre-sales on their own page."""
    if permissions.sees_everyone(request.user):
        return redirect("insights:performance")
    if permissions.has_scorecard(request.user):
        return redirect("insights:person", pk=request.user.pk)
    raise PermissionDenied("Only managers, sales reps and pre-sales consultants see insights.")


@login_required
@require_GET
def performance(request: HttpRequest) -> HttpResponse:
    permissions.require_scorecards(request.user)
    form, filters = filters_from(request.GET)
    snap = snapshots.performance_figures(
        filters=filters, viewer=request.user, fresh=snapshots.wants_fresh(request.GET)
    )
    perf, trend = snap.value
    query = filters.query()
    tables = [t.performance_table(perf, query), t.trend_table(trend)]
    context = {
        "form": form, "perf": perf, "snapshot": snap,
        "won_chart": charts.bar_chart(
            "Deals won per person", [(c.name, c.deals_won) for c in perf.rows if c.deals_won or c.is_active],
            axis_label="deals won in the period", chart_id="won", integer=True,
        ),
        "kept_chart": charts.bar_chart(
            "Kept rate per person", [(c.name, c.kept_rate or 0.0) for c in perf.rows if c.kept_rate is not None],
            unit="%", axis_label="kept / (kept + broken), promises made in the period", chart_id="kept",
            top_value=100,
        ),
        **_trend_charts(trend, "trend"),
    }
    return _respond(request, "insights/performance.html", context, tables, dashboard="performance", filters=filters)


def _trend_charts(trend: list[MonthPoint], prefix: str) -> dict[str, Any]:
    labels = [p.month.strftime("%b %y") for p in trend]
    return {
        "deals_trend_chart": charts.column_chart(
            "Deals won by month", labels, [charts.Series("Deals won", [p.deals_won for p in trend])],
            axis_label="deals", chart_id=f"{prefix}-deals", integer=True,
        ),
        "promises_trend_chart": charts.line_chart(
            "Promises made by month, and what became of them", labels,
            [charts.Series("Made", [p.promises_made for p in trend]),
             charts.Series("Kept", [p.promises_kept for p in trend], colour="#1f7a4d"),
             charts.Series("Broken", [p.promises_broken for p in trend], colour="#b42318"),
             charts.Series("Problems traced", [p.problems_traced for p in trend], colour="#4b5563")],
            axis_label="promises", chart_id=f"{prefix}-promises", integer=True,
        ),
    }


@login_required
@require_GET
def person(request: HttpRequest, pk: int) -> HttpResponse:
    someone = permissions.get_person_for(request.user, pk)
    form, filters = filters_from(request.GET)
    page = person_page(period=filters.period, viewer=request.user, person=someone)
    query = filters.query()
    scorecard = t.Table(
        name="scorecard", title="Scorecard", columns=t.PERFORMANCE_COLUMNS,
        rows=[t.scorecard_cells(page.scorecard, query)],
    )
    tables = [scorecard, t.trend_table(page.trend), t.person_deals_table(page), t.person_promises_table(page),
              t.person_problems_table(page)]
    context = {"form": form, "page": page, "someone": someone, "card": page.scorecard, "no_team": True,
               **_trend_charts(page.trend, "person")}
    return _respond(request, "insights/person.html", context, tables, dashboard=f"person-{someone.pk}",
                    filters=filters)


@login_required
@require_GET
def reassignment(request: HttpRequest) -> HttpResponse:
    permissions.require_dashboards(request.user)
    form, filters = filters_from(request.GET)
    snap = snapshots.reassignment_figures(
        filters=filters, viewer=request.user, fresh=snapshots.wants_fresh(request.GET)
    )
    data = snap.value
    tables = [t.owners_table(data), t.orphans_table(data), t.single_threaded_table(data), t.changes_table(data)]
    context = {
        "form": form, "data": data, "snapshot": snap, "can_reassign": roles.can_reassign(request.user),
        "book_url": reverse("crm:book_reassign"),
        "reason_counts": [(REASONS.get(code, code), n) for code, n in data.changes_by_reason.items()],
        "owners_chart": charts.bar_chart(
            "Accounts per owner", [(o.name + ("" if o.is_active else " (inactive)"), o.accounts) for o in data.owners],
            axis_label="accounts owned today", chart_id="owners", integer=True,
        ),
    }
    return _respond(request, "insights/reassignment.html", context, tables, dashboard="reassignment", filters=filters)


@login_required
@require_GET
def risk(request: HttpRequest) -> HttpResponse:
    permissions.require_dashboards(request.user)
    form, filters = filters_from(request.GET)
    # The page lists the riskiest RISK_PAGE_ROWS (a snapshot of those alone, quick to read back);
    # the CSV has every customer in early life.
    shown = None if request.GET.get("format") == "csv" else RISK_PAGE_ROWS
    snap = snapshots.risk_figures(
        filters=filters, viewer=request.user, fresh=snapshots.wants_fresh(request.GET), limit=shown
    )
    data = snap.value
    scored = [r for r in data.rows if r.score]
    context = {
        "form": form, "data": data, "snapshot": snap, "at_risk": data.at_risk, "no_period": True,
        "shown": len(data.rows),
        "points": {
            "overdue": early_life.OVERDUE_CHECKUP_POINTS, "satisfaction": early_life.SATISFACTION_POINTS,
            "problems": early_life.PROBLEM_POINTS, "signoff": early_life.SIGNOFF_WAIT_POINTS,
            "single": early_life.SINGLE_THREAD_POINTS,
        },
        "reminder_days": _reminder_days(),
        "risk_chart": charts.bar_chart(
            "Riskiest customers", [(r.account, r.score) for r in scored[:15]], axis_label="risk score",
            chart_id="risk", max_items=15, integer=True,
        ),
    }
    return _respond(
        request, "insights/risk.html", context, [t.risk_table(data)], dashboard="risk", filters=filters
    )


def _reminder_days() -> int:
    return int(settings.KEEPWARM["SIGNOFF_REMINDER_DAYS"])


@login_required
@require_GET
def delivery(request: HttpRequest) -> HttpResponse:
    permissions.require_dashboards(request.user)
    form, filters = filters_from(request.GET)
    snap = snapshots.delivery_figures(filters=filters, viewer=request.user, fresh=snapshots.wants_fresh(request.GET))
    data = snap.value
    tables = [t.waiting_table(data), t.stages_table(data), t.categories_table(data)]
    context = {
        "form": form, "data": data, "snapshot": snap,
        "overdue": sum(1 for h in data.waiting if h.overdue),
        "stages_chart": charts.bar_chart(
            "Active projects by current stage",
            [(f"{r.position}. {r.name}" if r.position else r.name, r.projects) for r in data.projects_by_stage],
            axis_label="projects", chart_id="stages", integer=True,
        ),
        "problems_chart": charts.bar_chart(
            "Median hours to resolve, by category",
            [(r.label, r.median_hours_to_resolve or 0.0) for r in data.problems_by_category
             if r.median_hours_to_resolve is not None],
            unit=" h", axis_label="hours from raised to resolved (median)", chart_id="problems",
        ),
    }
    return _respond(request, "insights/delivery.html", context, tables, dashboard="delivery", filters=filters)
