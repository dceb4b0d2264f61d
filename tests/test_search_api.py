"""GET /api/v1/search/?q=: the header search for API clients."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm import services
from tests.scenarios import api_for, client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/search/"


def test_it_returns_the_groups_with_why_each_result_matched(rep, account):
    services.contact_create(account=account, by=rep, first_name="Anna", last_name="Schmidt", phone="030 1234 567")
    response = api_for(rep).get(URL, {"q": "+49 30 1234"})
    assert response.status_code == 200
    data = response.json()
    assert data["query"] == "+49 30 1234" and data["count_cap"] == 100
    assert [g["kind"] for g in data["groups"]] == ["accounts", "contacts", "deals", "promises", "problems", "activities"]
    contacts = data["groups"][1]
    assert contacts["count"] == 1 and contacts["count_capped"] is False and contacts["more_url"] == ""
    [result] = contacts["results"]
    assert result["title"] == "Anna Schmidt" and result["reason"] == "phone matches"
    assert result["url"] == reverse("crm:account_detail", args=[account.pk])
    assert {"text": "30 1234", "match": True} in result["matched"]


def test_it_shows_only_what_the_user_may_see(rep, rep2, account, other_account):
    for i in range(7):
        services.account_create(by=rep2, name=f"Globex {i}")
    mine = api_for(rep).get(URL, {"q": "globex"}).json()
    assert all(g["results"] == [] and g["count"] == 0 for g in mine["groups"])
    theirs = api_for(rep2).get(URL, {"q": "globex"}).json()["groups"][0]
    assert theirs["count"] == 8 and len(theirs["results"]) == 5 and theirs["more_url"] == "/accounts/?q=globex"


def test_one_kind_gives_more_of_it(rep, account):
    for i in range(7):
        services.account_create(by=rep, name=f"Zephyr {i}")
    data = api_for(rep).get(URL, {"q": "zephyr", "kind": "accounts"}).json()
    assert [g["kind"] for g in data["groups"]] == ["accounts"]
    assert len(data["groups"][0]["results"]) == 7


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [({}, "q", "Type something"), ({"q": "a"}, "q", "at least 2"), ({"q": "x" * 201}, "q", "at most 200"),
     ({"q": "acme", "kind": "nope"}, "kind", "valid choice")],
)
def test_bad_input_is_a_400_naming_the_field(rep, params, field, message):
    response = api_for(rep).get(URL, params)
    assert response.status_code == 400
    assert message in response.json()[field][0]


@pytest.mark.parametrize("typed", ["'", "&|!:*", "\\", "\x00", "a\x00b", "x" * 10_000, "'':*", "!(a|b)", "😀"])
def test_odd_input_is_a_200_or_a_400_never_a_500(rep, account, typed):
    assert api_for(rep).get(URL, {"q": typed}).status_code in (200, 400)


def test_it_needs_authentication_and_is_in_the_schema(rep):
    assert api_for(None).get(URL, {"q": "acme"}).status_code == 401
    schema = client_for(rep).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/search/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"q", "kind"}
    assert "200" in operation["responses"] and "400" in operation["responses"]
