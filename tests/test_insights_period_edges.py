"""Dashboard periods at the calendar's edges (year 1, year 9999) in the pages, their CSV exports
and the API: a clear error naming the field, never an OverflowError (a 500); periods inside the
accepted range are computed (reliability.md 29)."""

from __future__ import annotations

import pytest

from tests.scenarios import api_for, client_for

PAGES = ["/insights/performance/", "/insights/reassignment/", "/insights/risk/", "/insights/delivery/"]
API = ["/api/v1/insights/performance/", "/api/v1/insights/reassignment/", "/api/v1/insights/delivery/",
       "/api/v1/insights/risk/"]

REFUSED = [
    ({"start": "0001-01-01"}, "start", "From must be on or after 2000-01-01."),
    ({"end": "0001-01-01"}, "end", "To must be on or after 2000-01-01."),
    ({"start": "0001-01-01", "end": "0001-01-02"}, "start", "From must be on or after 2000-01-01."),
    ({"start": "9999-12-30", "end": "9999-12-31"}, "start", "From must be on or before 2100-12-31."),
    ({"end": "9999-12-31"}, "end", "To must be on or before 2100-12-31."),
    ({"start": "1999-12-31", "end": "2000-01-31"}, "start", "From must be on or after 2000-01-01."),
    ({"start": "2101-01-01", "end": "2101-01-02"}, "start", "From must be on or before 2100-12-31."),
]
ACCEPTED = [
    {"start": "2000-01-01", "end": "2000-03-31"},
    {"start": "2100-10-01", "end": "2100-12-31"},
    {"end": "2000-01-01"},
    {"start": "2098-01-01", "end": "2100-12-31"},
]


@pytest.fixture
def manager(salesmgr, deal):
    return salesmgr


@pytest.mark.parametrize(("params", "field", "message"), REFUSED)
def test_an_edge_of_the_calendar_is_a_400_naming_the_field_in_the_api(manager, params, field, message):
    for path in API:
        response = api_for(manager).get(path, params)
        assert response.status_code == 400, (path, response.status_code)
        assert response.json()[field] == [message], path


@pytest.mark.parametrize(("params", "field", "message"), REFUSED)
def test_an_edge_of_the_calendar_is_a_form_error_on_the_pages_and_their_csv(manager, params, field, message):
    client = client_for(manager)
    for path in PAGES:
        page = client.get(path, params)
        assert page.status_code == 200, (path, page.status_code)
        assert page.context["form"].errors[field] == [message], path
        assert message in page.content.decode()
        csv = client.get(path, {**params, "format": "csv"})
        assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv"), (path, csv.status_code)


@pytest.mark.parametrize("params", ACCEPTED)
def test_a_period_inside_the_range_is_computed_everywhere(manager, params):
    client = client_for(manager)
    for path in PAGES:
        assert client.get(path, params).status_code == 200, path
        assert client.get(path, {**params, "format": "csv"}).status_code == 200, path
    for path in API:
        assert api_for(manager).get(path, params).status_code == 200, path


def test_a_persons_page_refuses_the_calendars_edges_too(manager, rep):
    client = client_for(manager)
    page = client.get(f"/insights/people/{rep.pk}/", {"start": "0001-01-01", "end": "0001-01-05"})
    assert page.status_code == 200
    assert page.context["form"].errors["start"] == ["From must be on or after 2000-01-01."]
    assert client.get(f"/insights/people/{rep.pk}/", {"start": "2100-12-01", "end": "2100-12-31"}).status_code == 200
