"""/api/v1/saved-views/: your views and the team's shared ones to read; yours to create, rename,
share (managers only) and delete; bad input answers 400 naming the field and saves nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User

from saved_views import services
from saved_views.models import SavedView
from tests.scenarios import api_for

pytestmark = pytest.mark.django_db

API = "/api/v1/saved-views/"


def save(user: User, name: str = "Big deals", **kwargs: Any) -> SavedView:
    return services.saved_view_create(by=user, list_name=kwargs.pop("list_name", "crm:deal_list"), name=name,
                                      query=kwargs.pop("query", "amount_min=10000"), **kwargs)


def test_creating_a_view(rep: User) -> None:
    response = api_for(rep).post(API, {"list": "crm:contact_list", "name": "Billing", "query": "?role=billing&page=4"},
                                 format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["list"] == "crm:contact_list" and body["query"] == "role=billing" and body["shared"] is False
    assert body["url"] == "/contacts/?role=billing" and body["mine"] is True and body["owner"] == rep.pk
    assert SavedView.objects.get().user == rep


def test_the_list_has_mine_and_the_shared_ones_only(rep: User, rep2: User, salesmgr: User) -> None:
    save(rep, name="Mine")
    save(rep2, name="Private to rep2")
    save(salesmgr, name="Team", shared=True, list_name="crm:contact_list", query="")
    response = api_for(rep).get(API)
    assert response.status_code == 200
    assert {(v["name"], v["mine"]) for v in response.json()["results"]} == {("Mine", True), ("Team", False)}
    only_deals = api_for(rep).get(API, {"list": "crm:deal_list"}).json()["results"]
    assert [v["name"] for v in only_deals] == ["Mine"]
    assert [v["name"] for v in api_for(rep).get(API, {"mine": "false"}).json()["results"]] == ["Team"]


def test_a_shared_view_is_readable_but_not_changeable_by_others(rep: User, salesmgr: User) -> None:
    view = save(salesmgr, shared=True)
    client = api_for(rep)
    assert client.get(f"{API}{view.pk}/").status_code == 200
    assert client.patch(f"{API}{view.pk}/", {"name": "Mine"}, format="json").status_code == 404
    assert client.delete(f"{API}{view.pk}/").status_code == 404
    assert SavedView.objects.get(pk=view.pk).name == "Big deals"


def test_another_persons_private_view_is_404(rep: User, rep2: User) -> None:
    view = save(rep2)
    assert api_for(rep).get(f"{API}{view.pk}/").status_code == 404
    assert api_for(rep).get(f"{API}999999/").status_code == 404


def test_a_rep_sharing_is_403_and_nothing_changes(rep: User) -> None:
    response = api_for(rep).post(API, {"list": "crm:deal_list", "name": "Team", "shared": True}, format="json")
    assert response.status_code == 403
    view = save(rep)
    assert api_for(rep).patch(f"{API}{view.pk}/", {"shared": True, "name": "Renamed"}, format="json").status_code == 403
    view.refresh_from_db()
    assert (view.name, view.shared) == ("Big deals", False)
    assert SavedView.objects.count() == 1


def test_a_manager_shares_and_unshares_and_it_is_logged(salesmgr: User) -> None:
    view = save(salesmgr)
    client = api_for(salesmgr)
    response = client.patch(f"{API}{view.pk}/", {"shared": True}, format="json")
    assert response.status_code == 200 and response.json()["shared"] is True
    assert client.put(f"{API}{view.pk}/", {"name": "Large deals", "shared": False}, format="json").json()["shared"] is False
    view.refresh_from_db()
    assert (view.name, view.shared) == ("Large deals", False)
    messages = list(LogEntry.objects.filter(object_id=str(view.pk)).order_by("pk").values_list("change_message", flat=True))
    assert messages == ["Shared with the team.", "No longer shared with the team."]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"list": "crm:user_list", "name": "X"}, "list"),
        ({"list": "crm:deal_list"}, "name"),
        ({"list": "crm:deal_list", "name": ""}, "name"),
        ({"list": "crm:deal_list", "name": "x" * 81}, "name"),
        ({"list": "crm:deal_list", "name": "Big deals"}, "name"),  # taken
        ({"list": "crm:deal_list", "name": "a\x00b"}, "name"),
        ({"list": "crm:deal_list", "name": "Long", "query": "q=" + "x" * 1500}, "query"),
        ({"list": "crm:deal_list", "name": "Y", "shared": "perhaps"}, "shared"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_nothing_is_saved(salesmgr: User, body: dict[str, Any], field: str) -> None:
    save(salesmgr)
    response = api_for(salesmgr).post(API, body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert SavedView.objects.count() == 1


def test_renaming_to_a_taken_name_is_400_and_changes_nothing(salesmgr: User) -> None:
    save(salesmgr, name="One")
    two = save(salesmgr, name="Two")
    response = api_for(salesmgr).patch(f"{API}{two.pk}/", {"name": "ONE", "shared": True}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    two.refresh_from_db()
    assert (two.name, two.shared) == ("Two", False)  # the sharing asked with it did not happen either
    assert not LogEntry.objects.exists()


def test_the_query_and_the_list_cannot_be_changed_through_an_update(rep: User) -> None:
    view = save(rep)
    api_for(rep).patch(f"{API}{view.pk}/", {"query": "stage=won", "list": "crm:contact_list"}, format="json")
    view.refresh_from_db()
    assert (view.query, view.list_name) == ("amount_min=10000", "crm:deal_list")


def test_deleting_my_view(rep: User) -> None:
    view = save(rep)
    assert api_for(rep).delete(f"{API}{view.pk}/").status_code == 204
    assert not SavedView.objects.exists()


def test_a_bad_filter_is_400_naming_it(rep: User) -> None:
    response = api_for(rep).get(API, {"list": "nope"})
    assert response.status_code == 400 and "list" in response.json()


def test_the_schema_documents_the_saved_views(rep: User) -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/saved-views/"])
    assert {"get", "put", "patch", "delete"} <= set(schema["paths"]["/api/v1/saved-views/{id}/"])
    parameters = {p["name"] for p in schema["paths"]["/api/v1/saved-views/"]["get"]["parameters"]}
    assert {"list", "mine", "shared"} <= parameters
