"""Dashboard figures reused for at most a few minutes (insights.snapshots): the page and the API
say how old they are, `fresh=1` recomputes, nothing older than the maximum age is ever served,
and a snapshot is only reused for viewers entitled to exactly the same figures."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crm import roles
from crm import services as crm
from crm.models import UserProfile
from flows import actions as flows
from insights import snapshots, tasks
from insights import views as insights_views
from tests.scenarios import api_for, client_for, make_user

PAGE = "/insights/performance/"
API = "/api/v1/insights/performance/"


def _win(seller: Any, name: str) -> None:
    account = crm.account_create(by=seller, name=name)
    deal = crm.deal_create(account=account, by=seller, name=f"{name} deal", value="1000",
                           line_items=[{"kind": "service", "name": "Setup", "quantity": 1, "unit_price": "1000"}])
    flows.deal_win(deal=deal, by=seller)


def _won(api: Any, url: str = API) -> int:
    body = api.get(url).json()
    return body["total"]["deals_won"] if body["total"] else sum(r["deals_won"] for r in body["rows"])


_real_now = timezone.now


def _later(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """The clock `seconds` after the real now (not after an earlier move)."""
    moved = _real_now() + timedelta(seconds=seconds)
    monkeypatch.setattr(snapshots.timezone, "now", lambda: moved)


def test_figures_are_reused_for_a_while_and_say_how_old_they_are(rep, salesmgr, monkeypatch):
    api = api_for(salesmgr)
    _win(rep, "First")
    first = api.get(API).json()
    assert first["total"]["deals_won"] == 1
    _win(rep, "Second")
    _later(monkeypatch, 30)
    reused = api.get(API).json()
    assert reused["total"]["deals_won"] == 1 and reused["as_of"] == first["as_of"]
    page = client_for(salesmgr).get(PAGE).content.decode()
    assert "computed 30 seconds ago and reused for up to 120 seconds" in page
    assert re.search(r"href=\"/insights/performance/\?[^\"]*fresh=1\">Recompute now</a>", page), page[page.find("freshness"):][:600]


def test_recompute_now_counts_everything_up_to_now(rep, salesmgr):
    api = api_for(salesmgr)
    _win(rep, "First")
    assert _won(api) == 1
    _win(rep, "Second")
    assert _won(api, API + "?fresh=1") == 2
    assert "just computed" in client_for(salesmgr).get(PAGE + "?fresh=1").content.decode()
    assert _won(api) == 2  # the recomputed figures replaced the old ones


def test_figures_older_than_the_maximum_age_are_never_served(rep, salesmgr, monkeypatch, settings):
    settings.KEEPWARM = {**settings.KEEPWARM, "INSIGHTS_MAX_AGE_SECONDS": 60}
    api = api_for(salesmgr)
    _win(rep, "First")
    assert _won(api) == 1
    _win(rep, "Second")
    _later(monkeypatch, 59)
    assert _won(api) == 1
    _later(monkeypatch, 61)
    assert _won(api) == 2


def test_a_maximum_age_of_zero_computes_every_time_and_a_huge_one_is_capped(rep, salesmgr, settings):
    settings.KEEPWARM = {**settings.KEEPWARM, "INSIGHTS_MAX_AGE_SECONDS": 0}
    api = api_for(salesmgr)
    _win(rep, "First")
    assert _won(api) == 1
    _win(rep, "Second")
    assert _won(api) == 2
    settings.KEEPWARM = {**settings.KEEPWARM, "INSIGHTS_MAX_AGE_SECONDS": 86400}
    assert snapshots.max_age() == snapshots.MAX_AGE_CAP == 600


def test_a_reps_own_scorecard_is_never_served_to_a_manager_or_the_other_way_round(rep, rep2, salesmgr):
    _win(rep, "Mine")
    _win(rep2, "Theirs")
    mine = api_for(rep).get(API).json()
    assert [r["deals_won"] for r in mine["rows"]] == [1] and mine["total"] is None
    everyone = api_for(salesmgr).get(API).json()
    assert everyone["total"]["deals_won"] == 2
    theirs = api_for(rep2).get(API).json()
    assert [r["person_id"] for r in theirs["rows"]] == [rep2.pk]


def test_two_managers_share_one_computation_but_not_across_periods_or_teams(rep, rep2, salesmgr):
    other_manager = make_user("salesmgr2", roles.SALES_MANAGER)
    UserProfile.objects.update_or_create(user=rep2, defaults={"manager": salesmgr})
    _win(rep, "First")
    assert _won(api_for(salesmgr)) == 1
    _win(rep, "Second")
    assert _won(api_for(other_manager)) == 1  # the same figures, computed once
    today = timezone.localdate()
    assert _won(api_for(other_manager), f"{API}?start={today - timedelta(days=10)}&end={today}") == 2
    assert _won(api_for(other_manager), f"{API}?team={salesmgr.pk}") == 0  # rep2 won nothing


def test_invalidating_a_dashboard_makes_its_next_request_recompute(rep, salesmgr):
    api = api_for(salesmgr)
    _win(rep, "First")
    assert _won(api) == 1
    _win(rep, "Second")
    snapshots.invalidate("performance")
    assert _won(api) == 2


def test_permissions_are_checked_before_any_snapshot_is_read(rep, salesmgr, delivery):
    assert api_for(salesmgr).get(API).status_code == 200
    assert api_for(delivery).get(API).status_code == 403
    assert client_for(delivery).get(PAGE).status_code == 403


def test_the_risk_page_lists_the_riskiest_and_the_csv_lists_them_all(project, salesmgr, monkeypatch):
    monkeypatch.setattr(insights_views, "RISK_PAGE_ROWS", 0)
    page = client_for(salesmgr).get("/insights/risk/").content.decode()
    assert "The 0 riskiest of 1 customer in their first 90 days" in page
    rows = client_for(salesmgr).get("/insights/risk/?format=csv").getvalue().decode("utf-8-sig").strip().splitlines()
    assert len(rows) == 2 and project.account.name in rows[1]


def test_without_a_working_cache_the_figures_are_computed_for_every_request(rep, salesmgr, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("cache down")

    monkeypatch.setattr(snapshots.cache, "get", broken)
    monkeypatch.setattr(snapshots.cache, "set", broken)
    api = api_for(salesmgr)
    _win(rep, "First")
    assert _won(api) == 1
    _win(rep, "Second")
    assert _won(api) == 2
    assert "just computed" in client_for(salesmgr).get(PAGE).content.decode()
    snapshots.invalidate("performance")  # logged, not raised


def test_beats_refresh_computes_the_default_views_before_anyone_asks(rep, salesmgr, django_assert_max_num_queries):
    _win(rep, "First")
    assert tasks.refresh_dashboards() == 4
    with django_assert_max_num_queries(4):  # session, user, roles, team choices: no figures computed
        body = api_for(salesmgr).get(API).json()
    assert body["total"]["deals_won"] == 1
    _win(rep, "Second")
    assert _won(api_for(salesmgr)) == 1  # the refreshed figures, until the next tick
    tasks.refresh_dashboards()
    assert _won(api_for(salesmgr)) == 2
    for path in ("reassignment", "risk", "delivery"):
        with django_assert_max_num_queries(4):
            assert api_for(salesmgr).get(f"/api/v1/insights/{path}/").status_code == 200


def test_the_refresh_does_nothing_when_nobody_could_see_the_figures(rep):
    assert tasks.refresh_dashboards() == 0


def test_beat_refreshes_the_dashboards_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["insights-refresh-dashboards"]
    assert entry["task"] == tasks.refresh_dashboards.name and entry["schedule"] == timedelta(minutes=1)
    assert snapshots.max_age() >= 2 * 60  # a tick every minute keeps the default views warm
