"""Dashboard figures computed at most a few minutes ago, never silently stale.

A dashboard's figures aggregate a whole period of deals, promises, problems and check-ups; with
a large book that is most of the page's cost (docs/benchmarks.md has the figures), and the same
figures are asked for again and again by every manager who opens the page. So a dashboard's
figures are computed once, kept in the cache for at most settings.KEEPWARM["INSIGHTS_MAX_AGE_SECONDS"]
(default 120, at most 600), and reused by everyone who may see exactly the same figures (same
dashboard, period, team and scope: "everyone" for managers and administrators, the person for a
rep's own scorecard).

What keeps that honest:
- the snapshot carries the moment its computation started (`as_of`); every page shows it
  ("figures as of 07:52 UTC, 35 seconds ago") and the API returns it;
- a snapshot older than the maximum age is never served, whatever the cache backend does;
- `?fresh=1` recomputes now (the page's "Recompute now" link);
- every snapshot's cache key carries its dashboard's version, and writes that change what a
  dashboard shows right away (a reassignment) give the dashboards a new version once they
  commit, which makes every snapshot of them obsolete at once (see insights.receivers).

So that nobody waits for the usual view to be computed, beat runs `insights.tasks.refresh_dashboards`
every minute: it recomputes the four dashboards' default view (the last 90 days, everyone) for
the managers' scope, so with a shared cache (Redis) a manager is served figures about a minute
old at most, and only other filters are ever computed on a page request.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from crm import roles
from insights import permissions, selectors
from insights.forms import DEFAULT_DAYS, Filters

T = TypeVar("T")
logger = logging.getLogger(__name__)

PREFIX = "insights:snapshot:v1"
RISK_PAGE_ROWS = 50  # the risk page lists the riskiest 50; its CSV and the API all of them


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    value: T
    as_of: datetime  # when the computation started: the figures include everything before it
    reused: bool = False  # served from the cache rather than computed for this request
    # The cache key the figures are kept under (it carries the dashboard's version); "" when the
    # cache is not in use. With `as_of`, it names these figures exactly: what is rendered from
    # them may be kept under it (insights.views.figures_html).
    key: str = ""

    @property
    def age_seconds(self) -> int:
        return max(0, int((timezone.now() - self.as_of).total_seconds()))


MAX_AGE_CAP = 600  # "never older than a few minutes", whatever the setting says


def max_age() -> int:
    return max(0, min(int(settings.KEEPWARM.get("INSIGHTS_MAX_AGE_SECONDS", 120)), MAX_AGE_CAP))


def scope_of(viewer: Any, *, sees_everyone: bool) -> str:
    """Who else may be served the same figures: everyone who sees everything, or the viewer alone."""
    return "everyone" if sees_everyone else f"user-{viewer.pk}"


def _version_key(dashboard: str) -> str:
    return f"{PREFIX}:{dashboard}:version"


def invalidate(*dashboards: str) -> None:
    """Make every snapshot of each of `dashboards` obsolete (the next request recomputes): each
    gets a new version, which every snapshot's key carries. Idempotent and one cache write
    whatever the number of dashboards, so a writer may call it as often as it commits."""
    try:
        cache.set_many({_version_key(d): uuid.uuid4().hex for d in dashboards}, timeout=None)
    except Exception:  # the cache is down: nothing is reused either (see snapshot)
        logger.warning("insights: could not forget the %s snapshots", ", ".join(dashboards), exc_info=True)


def snapshot(
    dashboard: str, key: Hashable, compute: Callable[[], T], *, fresh: bool = False, as_of: datetime | None = None,
) -> Snapshot[T]:
    """`compute()`'s result for `key`, reused when computed less than max_age() seconds ago.
    Without a working cache every request computes (and says "just computed"). `as_of`: when
    the data `compute()` returns was read, if earlier than now (a view cut from a bigger one)."""
    limit = max_age()
    cache_key = ""
    try:
        version = cache.get(_version_key(dashboard), "0")
        cache_key = f"{PREFIX}:{dashboard}:{version}:" + hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        kept = cache.get(cache_key) if not fresh and limit > 0 else None
    except Exception:
        logger.warning("insights: the cache is unavailable; computing the %s figures", dashboard, exc_info=True)
        limit, kept, cache_key = 0, None, ""
    if isinstance(kept, Snapshot) and (timezone.now() - kept.as_of).total_seconds() <= limit:
        return Snapshot(value=kept.value, as_of=kept.as_of, reused=True, key=cache_key)
    started = as_of or timezone.now()
    made = Snapshot(value=compute(), as_of=started, key=cache_key if limit > 0 else "")
    if limit > 0:
        try:
            cache.set(cache_key, made, timeout=limit)
        except Exception:
            logger.warning("insights: could not keep the %s figures", dashboard, exc_info=True)
    return made


# --- The dashboards' figures ------------------------------------------------------------------


def wants_fresh(params: Any) -> bool:
    """`?fresh=1`: recompute now instead of reusing a recent snapshot."""
    return params.get("fresh") in ("1", "true")


DASHBOARDS = ("performance", "reassignment", "risk", "delivery")


def _figures(
    dashboard: str, *, filters: Any, viewer: Any, fresh: bool, compute: Callable[[], T], variant: Any = None,
    as_of: datetime | None = None,
) -> Snapshot[T]:
    # The zone too: a period's days begin at midnight in the viewer's zone (selectors.Period).
    key = (filters.period, filters.team, scope_of(viewer, sees_everyone=permissions.sees_everyone(viewer)), variant,
           timezone.get_current_timezone_name())
    return snapshot(dashboard, key, compute, fresh=fresh, as_of=as_of)


def performance_figures(*, filters: Any, viewer: Any, fresh: bool = False) -> Snapshot[tuple[Any, Any]]:
    """The performance dashboard's scorecards and monthly trend, as one snapshot."""
    permissions.require_scorecards(viewer)
    period, team = filters.period, filters.team
    return _figures(
        "performance", filters=filters, viewer=viewer, fresh=fresh,
        compute=lambda: (selectors.performance(period=period, team=team, viewer=viewer),
                         selectors.trends(period=period, team=team, viewer=viewer)),
    )


def reassignment_figures(*, filters: Any, viewer: Any, fresh: bool = False) -> Snapshot[Any]:
    permissions.require_dashboards(viewer)
    return _figures(
        "reassignment", filters=filters, viewer=viewer, fresh=fresh,
        compute=lambda: selectors.reassignment(period=filters.period, team=filters.team, viewer=viewer),
    )


def risk_figures(*, filters: Any, viewer: Any, fresh: bool = False, limit: int | None = None) -> Snapshot[Any]:
    """Every customer in early life, or (`limit`) the riskiest few with the counts of all: the
    page keeps a snapshot of its few rows, quick to read back; the CSV and the API the whole list."""
    permissions.require_dashboards(viewer)
    if limit is None:
        return _figures(
            "risk", filters=filters, viewer=viewer, fresh=fresh,
            compute=lambda: selectors.risk(period=filters.period, team=filters.team, viewer=viewer),
        )
    if not fresh:
        kept = _figures("risk", filters=filters, viewer=viewer, fresh=False, variant=limit,
                        compute=lambda: risk_figures(filters=filters, viewer=viewer, fresh=True).value.top(limit))
        return kept
    whole = risk_figures(filters=filters, viewer=viewer, fresh=True)
    return _figures("risk", filters=filters, viewer=viewer, fresh=True, variant=limit,
                    compute=lambda: whole.value.top(limit), as_of=whole.as_of)


def delivery_figures(*, filters: Any, viewer: Any, fresh: bool = False) -> Snapshot[Any]:
    permissions.require_dashboards(viewer)
    return _figures(
        "delivery", filters=filters, viewer=viewer, fresh=fresh,
        compute=lambda: selectors.delivery(period=filters.period, team=filters.team, viewer=viewer),
    )


def refresh_defaults() -> int:
    """Recomputes every dashboard's default view (the last 90 days, everyone) for the managers'
    scope and keeps it. Any active manager or administrator sees exactly those figures, so the
    first one computes them. Returns how many dashboards were refreshed (0: nobody to show them)."""
    viewer = (
        get_user_model().objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=roles.MANAGER_ROLES))
        .order_by("pk").first()
    )
    if viewer is None:
        return 0
    filters = Filters(period=selectors.Period.last_days(DEFAULT_DAYS), team=None)
    performance_figures(filters=filters, viewer=viewer, fresh=True)
    reassignment_figures(filters=filters, viewer=viewer, fresh=True)
    risk_figures(filters=filters, viewer=viewer, fresh=True, limit=RISK_PAGE_ROWS)  # and the whole list
    delivery_figures(filters=filters, viewer=viewer, fresh=True)
    return len(DASHBOARDS)
