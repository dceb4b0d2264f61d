"""The managers' dashboards (product.md section 5): reassignment, performance with each person's
page, early-life risk and delivery. Read-only pages: GET only, nothing here writes.

Every page reads its period and team from the query string (insights.forms), asks one selector
for its figures (insights.selectors, one module per dashboard, through insights.snapshots), and
renders its figures (insights.tables, insights.charts) once per snapshot (figures_html), or with
`?format=csv&table=<name>` sends one of its tables as CSV with the same filters. Permissions
come from insights.permissions: 403 for a dashboard the user may not see, 404 for another
person's page.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET

from core.counting import COUNT_CAP
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
# Bump when a figures template changes what it renders from the same figures, so a deploy never
# serves HTML kept by the previous code.
FIGURES_HTML_VERSION = 1
logger = logging.getLogger(__name__)


def figures_html(
    request: HttpRequest, template: str, snap: snapshots.Snapshot[Any] | None, build: Callable[[], dict[str, Any]],
    *, varies_on: tuple[Any, ...] = (),
) -> SafeString:
    """A dashboard's figures (its counts, tables and charts) rendered by `template` from
    `build()`'s context, once per snapshot: every request served the same snapshot is served the
    same HTML, kept for as long as the snapshot may be reused. The key is the snapshot's own key
    (which carries the dashboard's version, so whatever invalidates the figures invalidates their
    HTML) with the time the figures were computed, the time zone they are shown in, the page's
    path and filters (its links and CSV links) and `varies_on` (what else the template shows that
    depends on who asks). Without a snapshot key, or a working cache, it renders every time."""
    key = ""
    if snap is not None and snap.key:
        parts = (FIGURES_HTML_VERSION, template, snap.key, snap.as_of.isoformat(), timezone.get_current_timezone_name(),
                 request.path, request.GET.urlencode(), *varies_on)
        key = "insights:figures-html:" + hashlib.sha256(repr(parts).encode()).hexdigest()
        try:
            kept = cache.get(key)
        except Exception:
            logger.warning("insights: the cache is unavailable; rendering the figures", exc_info=True)
            kept, key = None, ""
        if isinstance(kept, SafeString):  # the template's own output, kept as it rendered
            return kept
    html = render_to_string(template, build(), request)
    if key:
        try:
            cache.set(key, html, timeout=snapshots.max_age())
        except Exception:
            logger.warning("insights: could not keep the rendered figures", exc_info=True)
    return html


def _respond(
    request: HttpRequest, template: str, context: dict[str, Any], tables: Callable[[], list[t.Table]], *,
    dashboard: str, filters: Filters, figures: str | None = None, snap: snapshots.Snapshot[Any] | None = None,
    charts_for: Callable[[], dict[str, Any]] = dict, varies_on: tuple[Any, ...] = (),
) -> HttpResponseBase:
    """The page, or one of its tables as CSV (`?format=csv&table=<name>`, the first by default).
    With `figures` (a template), the page's figures are rendered by it, once per snapshot
    (figures_html): the tables and charts are only built when they are rendered."""
    if request.GET.get("format") == "csv":
        by_name = t.by_name(tables())
        name = request.GET.get("table") or next(iter(by_name))
        if name not in by_name:
            raise Http404("No such table on this dashboard.")
        stamp = f"{filters.period.start:%Y%m%d}-{filters.period.end:%Y%m%d}"
        return t.csv_response(by_name[name], dashboard=dashboard, stamp=stamp)
    csv_base = f"{request.path}?{filters.query(format='csv')}"
    context.update({
        "csv_base": csv_base, "filters": filters, "query": filters.query(),
        "presets": [(days, filters.preset(days)) for days in PRESETS], "dashboard": dashboard,
        "sees_everyone": permissions.sees_everyone(request.user), "today": timezone.localdate(),
        "snapshot_max_age": snapshots.max_age(), "count_cap": COUNT_CAP,
    })
    if figures is None:
        context["tables"] = t.by_name(tables())
        context.update(charts_for())
    else:
        def build() -> dict[str, Any]:
            return {**context, "tables": t.by_name(tables()), **charts_for()}

        context["figures"] = figures_html(request, figures, snap, build, varies_on=varies_on)
    return render(request, template, context)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponseBase:
    """Managers land on the performance dashboard, reps and pre-sales on their own page."""
    if permissions.sees_everyone(request.user):
        return redirect("insights:performance")
    if permissions.has_scorecard(request.user):
        return redirect("insights:person", pk=request.user.pk)
    raise PermissionDenied("Only managers, sales reps and pre-sales consultants see insights.")


@login_required
@require_GET
def performance(request: HttpRequest) -> HttpResponseBase:
    permissions.require_scorecards(request.user)
    form, filters = filters_from(request.GET)
    snap = snapshots.performance_figures(
        filters=filters, viewer=request.user, fresh=snapshots.wants_fresh(request.GET)
    )
    perf, trend = snap.value
    query = filters.query()

    def charts_for() -> dict[str, Any]:
        return {
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

    return _respond(
        request, "insights/performance.html", {"form": form, "perf": perf, "snapshot": snap},
        lambda: [t.performance_table(perf, query), t.trend_table(trend)], dashboard="performance", filters=filters,
        figures="insights/_performance_figures.html", snap=snap, charts_for=charts_for,
    )


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
def person(request: HttpRequest, pk: int) -> HttpResponseBase:
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
    context = {"form": form, "page": page, "someone": someone, "card": page.scorecard, "no_team": True}
    return _respond(request, "insights/person.html", context, lambda: tables, dashboard=f"person-{someone.pk}",
                    filters=filters, charts_for=lambda: _trend_charts(page.trend, "person"))


@login_required
@require_GET
def reassignment(request: HttpRequest) -> HttpResponseBase:
    permissions.require_dashboards(request.user)
    form, filters = filters_from(request.GET)
    snap = snapshots.reassignment_figures(
        filters=filters, viewer=request.user, fresh=snapshots.wants_fresh(request.GET)
    )
    data = snap.value
    can_reassign = roles.can_reassign(request.user)
    context = {
        "form": form, "data": data, "snapshot": snap, "can_reassign": can_reassign,
        "book_url": reverse("crm:book_reassign"),
        "reason_counts": [(REASONS.get(code, code), n) for code, n in data.changes_by_reason.items()],
    }

    def charts_for() -> dict[str, Any]:
        return {"owners_chart": charts.bar_chart(
            "Accounts per owner", [(o.name + ("" if o.is_active else " (inactive)"), o.accounts) for o in data.owners],
            axis_label="accounts owned today", chart_id="owners", integer=True,
        )}

    return _respond(
        request, "insights/reassignment.html", context,
        lambda: [t.owners_table(data), t.orphans_table(data), t.single_threaded_table(data), t.changes_table(data)],
        dashboard="reassignment", filters=filters, figures="insights/_reassignment_figures.html", snap=snap,
        charts_for=charts_for, varies_on=(can_reassign,),
    )


@login_required
@require_GET
def risk(request: HttpRequest) -> HttpResponseBase:
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
    }

    def charts_for() -> dict[str, Any]:
        return {"risk_chart": charts.bar_chart(
            "Riskiest customers", [(r.account, r.score) for r in scored[:15]], axis_label="risk score",
            chart_id="risk", max_items=15, integer=True,
        )}

    return _respond(
        request, "insights/risk.html", context, lambda: [t.risk_table(data)], dashboard="risk", filters=filters,
        figures="insights/_risk_figures.html", snap=snap, charts_for=charts_for,
    )


def _reminder_days() -> int:
    return int(settings.KEEPWARM["SIGNOFF_REMINDER_DAYS"])


@login_required
@require_GET
def delivery(request: HttpRequest) -> HttpResponseBase:
    permissions.require_dashboards(request.user)
    form, filters = filters_from(request.GET)
    snap = snapshots.delivery_figures(filters=filters, viewer=request.user, fresh=snapshots.wants_fresh(request.GET))
    data = snap.value
    context = {"form": form, "data": data, "snapshot": snap, "overdue": sum(1 for h in data.waiting if h.overdue)}

    def charts_for() -> dict[str, Any]:
        return {
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

    return _respond(
        request, "insights/delivery.html", context,
        lambda: [t.waiting_table(data), t.stages_table(data), t.categories_table(data)], dashboard="delivery",
        filters=filters, figures="insights/_delivery_figures.html", snap=snap, charts_for=charts_for,
    )
