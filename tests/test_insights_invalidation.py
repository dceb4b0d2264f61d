"""What makes a dashboard's snapshot obsolete before its maximum age (insights.receivers): a
reassignment, once it commits, gives every dashboard a new version, so the next request
recomputes. Not before the commit, and not when it rolls back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from crm import roles
from crm import services as crm
from flows import actions as flows
from insights import snapshots
from insights.forms import Filters
from insights.receivers import forget_every_dashboard
from insights.selectors import Period
from tests.scenarios import api_for, make_user

FIGURES: dict[str, Callable[..., snapshots.Snapshot[Any]]] = {
    "performance": snapshots.performance_figures,
    "reassignment": snapshots.reassignment_figures,
    "risk": snapshots.risk_figures,
    "delivery": snapshots.delivery_figures,
}


def _reused(dashboard: str, viewer: Any) -> bool:
    filters = Filters(period=Period.last_days(90), team=None)
    return FIGURES[dashboard](filters=filters, viewer=viewer).reused


def test_every_dashboard_has_its_figures_here():
    assert set(FIGURES) == set(snapshots.DASHBOARDS)


@pytest.mark.parametrize("dashboard", snapshots.DASHBOARDS)
def test_a_reassignment_makes_the_dashboard_recompute_once_it_commits(
    dashboard, rep, rep2, salesmgr, django_capture_on_commit_callbacks,
):
    account = crm.account_create(by=rep, name="Moves")
    _reused(dashboard, salesmgr)
    assert _reused(dashboard, salesmgr) is True
    with django_capture_on_commit_callbacks() as callbacks:
        flows.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Territory")
    assert _reused(dashboard, salesmgr) is True  # not committed yet: the old figures still stand
    for callback in callbacks:
        callback()
    assert _reused(dashboard, salesmgr) is False
    assert _reused(dashboard, salesmgr) is True  # the recomputed figures are kept again


@pytest.mark.parametrize("dashboard", snapshots.DASHBOARDS)
def test_a_book_reassignment_makes_the_dashboard_recompute(
    dashboard, rep2, salesmgr, django_capture_on_commit_callbacks,
):
    leaver = make_user("leaver", roles.SALES_REP)
    for n in range(3):
        crm.account_create(by=leaver, name=f"Book {n}")
    leaver.is_active = False
    leaver.save(update_fields=["is_active"])
    _reused(dashboard, salesmgr)
    with django_capture_on_commit_callbacks(execute=True):
        flows.book_reassign(from_user=leaver, to_user=rep2, by=salesmgr, note="Left the company")
    assert _reused(dashboard, salesmgr) is False


def test_the_reassignment_dashboard_shows_a_book_reassignment_right_away(
    rep, rep2, salesmgr, django_capture_on_commit_callbacks,
):
    leaver = make_user("leaver", roles.SALES_REP)
    for n in range(3):
        crm.account_create(by=leaver, name=f"Book {n}")
    leaver.is_active = False
    leaver.save(update_fields=["is_active"])
    api = api_for(salesmgr)
    assert api.get("/api/v1/insights/reassignment/").json()["orphan_count"] == 3
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        flows.book_reassign(from_user=leaver, to_user=rep2, by=salesmgr, note="Left the company")
    # Once per account moved: forgetting is idempotent, so the repeats change nothing.
    assert [c for c in callbacks if c is forget_every_dashboard] == [forget_every_dashboard] * 3
    body = api.get("/api/v1/insights/reassignment/").json()
    assert body["orphan_count"] == 0 and body["change_count"] == 3


def test_a_reassignment_rolled_back_forgets_nothing(rep, rep2, salesmgr, django_capture_on_commit_callbacks):
    account = crm.account_create(by=rep, name="Stays put")
    _reused("reassignment", salesmgr)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                flows.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Trying")
                raise RuntimeError("changed my mind")
        except RuntimeError:
            pass
    assert forget_every_dashboard not in callbacks
    assert _reused("reassignment", salesmgr) is True


def test_forgetting_twice_is_forgetting_once(rep, salesmgr):
    _reused("performance", salesmgr)
    forget_every_dashboard()
    forget_every_dashboard()
    assert _reused("performance", salesmgr) is False
    assert _reused("performance", salesmgr) is True
