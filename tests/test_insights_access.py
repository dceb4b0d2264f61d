"""Who sees which insight: the dashboards, their CSV and API, each person's page and the
navigation link, by role; wrong methods and bad filters."""

from __future__ import annotations

import pytest

from flows import actions as flows
from tests.insights_world import page_tables
from tests.scenarios import api_for, client_for

# Its fixed dates come after its fixtures only if the fixtures are made before them (tests.conftest).
pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")


DASHBOARDS = ["performance", "reassignment", "risk", "delivery"]


WHO = {
    # persona: (performance, reassignment, risk, delivery)
    "salesmgr": (200, 200, 200, 200),
    "deliverymgr": (200, 200, 200, 200),
    "admin_user": (200, 200, 200, 200),
    "rep": (200, 403, 403, 403),
    "presales": (200, 403, 403, 403),
    "delivery": (403, 403, 403, 403),
}


@pytest.mark.parametrize("persona", sorted(WHO))
def test_who_sees_each_dashboard(request, persona):
    user = request.getfixturevalue(persona)
    client = client_for(user)
    api = api_for(user)
    for name, expected in zip(DASHBOARDS, WHO[persona], strict=True):
        assert client.get(f"/insights/{name}/").status_code == expected, name
        assert client.get(f"/insights/{name}/?format=csv").status_code == expected, name
        assert api.get(f"/api/v1/insights/{name}/").status_code == expected, name


def test_anonymous_visitors_are_sent_to_log_in(db):
    response = client_for(None).get("/insights/performance/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert api_for(None).get("/api/v1/insights/performance/").status_code == 401


def test_the_index_sends_each_role_to_their_view(rep, salesmgr, delivery):
    assert client_for(salesmgr).get("/insights/")["Location"] == "/insights/performance/"
    assert client_for(rep).get("/insights/")["Location"] == f"/insights/people/{rep.pk}/"
    assert client_for(delivery).get("/insights/").status_code == 403


def test_a_rep_sees_their_own_page_and_nobody_elses(rep, rep2, presales, salesmgr, delivery):
    assert client_for(rep).get(f"/insights/people/{rep.pk}/").status_code == 200
    assert client_for(rep).get(f"/insights/people/{rep2.pk}/").status_code == 404
    assert client_for(presales).get(f"/insights/people/{rep.pk}/?format=csv").status_code == 404
    assert client_for(rep).get("/insights/people/999999/").status_code == 404
    assert client_for(delivery).get(f"/insights/people/{delivery.pk}/").status_code == 403
    assert client_for(salesmgr).get(f"/insights/people/{rep2.pk}/").status_code == 200
    assert client_for(salesmgr).get("/insights/people/999999/").status_code == 404


def test_a_reps_performance_page_and_api_show_only_their_row(rep, rep2, presales, salesmgr, deal):
    flows.deal_win(deal=deal, by=rep)
    page = page_tables(client_for(rep).get("/insights/performance/"))
    assert [row[0] for row in page["people"]] == ["Rep Sales rep"]
    data = api_for(rep).get("/api/v1/insights/performance/").json()
    assert [r["name"] for r in data["rows"]] == ["Rep"] and data["total"] is None
    assert [r["name"] for r in api_for(salesmgr).get("/api/v1/insights/performance/").json()["rows"]] == [
        "Presales", "Rep", "Rep2",
    ]


def test_wrong_method_and_unknown_table(salesmgr):
    client = client_for(salesmgr)
    assert client.post("/insights/performance/").status_code == 405
    assert client.get("/insights/performance/?format=csv&table=nope").status_code == 404
    assert api_for(salesmgr).post("/api/v1/insights/risk/").status_code == 405


def test_bad_filters_fall_back_on_the_page_and_are_refused_by_the_api(salesmgr):
    response = client_for(salesmgr).get("/insights/performance/?start=2027-03-01&end=2027-01-01")
    assert response.status_code == 200
    assert b"The period must start before it ends." in response.content
    assert b"Showing the last 90 days instead." in response.content
    api = api_for(salesmgr)
    assert api.get("/api/v1/insights/performance/?start=2027-03-01&end=2027-01-01").status_code == 400
    assert api.get("/api/v1/insights/delivery/?start=yesterday").status_code == 400
    assert api.get("/api/v1/insights/reassignment/?team=424242").status_code == 400


def test_the_nav_link_goes_where_the_role_may_look(rep, salesmgr, delivery):
    assert b'href="/insights/performance/"' in client_for(salesmgr).get("/accounts/").content
    assert f'href="/insights/people/{rep.pk}/"'.encode() in client_for(rep).get("/accounts/").content
    assert b">Insights</a>" not in client_for(delivery).get("/accounts/").content


def test_the_openapi_schema_documents_the_endpoints(salesmgr):
    schema = api_for(salesmgr).get("/api/schema/?format=json").json()
    for name in DASHBOARDS:
        operation = schema["paths"][f"/api/v1/insights/{name}/"]["get"]
        assert "200" in operation["responses"] and "403" in operation["responses"]
        if name != "risk":
            assert {"start", "end", "team"} <= {p["name"] for p in operation["parameters"]}
