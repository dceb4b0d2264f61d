"""A dashboard's figures are rendered once per snapshot (insights.views.figures_html): requests
served the same snapshot get the same HTML without rendering the tables and charts again, and
whatever makes the snapshot obsolete (a reassignment's commit, "Recompute now") makes its HTML
obsolete too. What differs by viewer beyond the snapshot's scope (who may reassign) and by time
zone is rendered apart."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from crm import roles
from crm import services as crm
from flows import actions as flows
from insights import snapshots
from tests.scenarios import client_for, make_user

PAGES = {
    "performance": ("/insights/performance/", "insights/_performance_figures.html"),
    "reassignment": ("/insights/reassignment/", "insights/_reassignment_figures.html"),
    "risk": ("/insights/risk/", "insights/_risk_figures.html"),
    "delivery": ("/insights/delivery/", "insights/_delivery_figures.html"),
}


def _rendered_figures(client: Any, dashboard: str, query: str = "") -> tuple[bool, str]:
    url, template = PAGES[dashboard]
    response = client.get(url + query)
    assert response.status_code == 200
    return template in [t.name for t in response.templates], response.content.decode()


def test_every_dashboard_with_a_snapshot_renders_its_figures_apart():
    assert set(PAGES) == set(snapshots.DASHBOARDS)


@pytest.mark.parametrize("dashboard", snapshots.DASHBOARDS)
def test_a_second_visit_reuses_the_rendered_figures(dashboard, salesmgr):
    client = client_for(salesmgr)
    first, first_html = _rendered_figures(client, dashboard)
    again, again_html = _rendered_figures(client, dashboard)
    assert (first, again) == (True, False)
    # The page around the figures is the page's own (the freshness line says "reused").
    assert "just computed" in first_html and "reused for up to" in again_html


@pytest.mark.parametrize("dashboard", snapshots.DASHBOARDS)
def test_a_committed_reassignment_renders_the_figures_again(
    dashboard, rep, rep2, salesmgr, django_capture_on_commit_callbacks,
):
    account = crm.account_create(by=rep, name="Moves")
    client = client_for(salesmgr)
    _rendered_figures(client, dashboard)
    with django_capture_on_commit_callbacks(execute=True):
        flows.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Territory")
    rendered, _ = _rendered_figures(client, dashboard)
    assert rendered is True


def test_the_reassignment_figures_show_the_moved_account_at_once(rep, rep2, salesmgr, django_capture_on_commit_callbacks):
    leaver = make_user("leaver", roles.SALES_REP)
    crm.account_create(by=leaver, name="Left behind")
    leaver.is_active = False
    leaver.save(update_fields=["is_active"])
    client = client_for(salesmgr)
    _, before = _rendered_figures(client, "reassignment")
    assert 'id="orphan-count">1<' in before
    with django_capture_on_commit_callbacks(execute=True):
        flows.book_reassign(from_user=leaver, to_user=rep2, by=salesmgr, note="Left the company")
    _, after = _rendered_figures(client, "reassignment")
    assert 'id="orphan-count">0<' in after


@pytest.mark.parametrize("dashboard", snapshots.DASHBOARDS)
def test_recompute_now_renders_the_figures_again(dashboard, salesmgr):
    client = client_for(salesmgr)
    _rendered_figures(client, dashboard)
    rendered, html = _rendered_figures(client, dashboard, "?fresh=1")
    assert rendered is True and "just computed" in html


def test_who_may_reassign_gets_their_own_figures(salesmgr, deliverymgr, rep):
    leaver = make_user("leaver", roles.SALES_REP)
    crm.account_create(by=leaver, name="Left behind")
    leaver.is_active = False
    leaver.save(update_fields=["is_active"])
    # Both see everything, so both are served the same snapshot; only the sales manager reassigns.
    _, managers = _rendered_figures(client_for(salesmgr), "reassignment")
    reused, delivery_managers = _rendered_figures(client_for(deliverymgr), "reassignment")
    assert f'data-reassign="{leaver.pk}"' in managers
    assert reused is True and f'data-reassign="{leaver.pk}"' not in delivery_managers


def test_another_time_zone_gets_its_own_figures(salesmgr):
    client = client_for(salesmgr)
    _rendered_figures(client, "delivery")
    session = client.session
    from core.time_zones import SESSION_KEY

    session[SESSION_KEY] = "Pacific/Auckland"
    session.save()
    rendered, _ = _rendered_figures(client, "delivery")
    assert rendered is True


def test_without_a_working_cache_the_figures_are_rendered_every_time(salesmgr, monkeypatch):
    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    monkeypatch.setattr(cache, "set_many", down)
    client = client_for(salesmgr)
    assert _rendered_figures(client, "performance")[0] is True
    assert _rendered_figures(client, "performance")[0] is True
