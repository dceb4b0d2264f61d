"""Saved views: the services (names unique per user and list, only the owner changes a view,
only managers share, sharing logged in the admin's history), the bar on every list page, and its
forms (bad input named, nothing saved)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from saved_views import services
from saved_views.models import SavedView
from tests.scenarios import client_for

pytestmark = pytest.mark.django_db

LIST_PAGES = ["crm:account_list", "crm:contact_list", "crm:deal_list", "delivery:problem_list"]


def save(user: User, name: str = "Big deals", query: str = "amount_min=10000", **kwargs: Any) -> SavedView:
    return services.saved_view_create(by=user, list_name=kwargs.pop("list_name", "crm:deal_list"), name=name,
                                      query=query, **kwargs)


def sv_url(name: str, *args: Any) -> str:
    return reverse(f"saved_views:{name}", args=args)


def said(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Services ---------------------------------------------------------------------------------


def test_a_view_keeps_the_filters_and_sort_without_the_page(rep: User) -> None:
    view = save(rep, query="?stage=won&page=3&q=&sort=-amount&stage=lost&Evil=1&amount_min=5")
    assert view.query == "amount_min=5&sort=-amount&stage=won&stage=lost"
    assert view.url == "/deals/?amount_min=5&sort=-amount&stage=won&stage=lost"
    assert view.shared is False and view.user == rep


def test_names_are_unique_per_user_and_list_whatever_the_case(rep: User, rep2: User) -> None:
    save(rep, name="Big deals")
    with pytest.raises(ValidationError) as refused:
        save(rep, name="  big DEALS ")
    assert "already have a view named" in refused.value.message_dict["name"][0]
    # Another list, or another person: the same name is fine.
    save(rep, name="Big deals", list_name="crm:contact_list", query="")
    save(rep2, name="Big deals")
    assert SavedView.objects.count() == 3


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "Bad\x00name"}, "name"),
        ({"list_name": "crm:user_list"}, "list_name"),
        ({"list_name": "admin:index"}, "list_name"),
        ({"query": "q=" + "x" * 1200}, "query"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(rep: User, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        save(rep, **fields)
    assert field in refused.value.message_dict
    assert SavedView.objects.count() == 0


def test_only_managers_share_and_sharing_is_logged_in_the_admins_history(
    rep: User, salesmgr: User, deliverymgr: User, admin_user: User,
) -> None:
    with pytest.raises(PermissionDenied):
        save(rep, shared=True)
    assert SavedView.objects.count() == 0
    view = save(salesmgr, shared=True)
    save(deliverymgr, shared=True)
    save(admin_user, shared=True)
    entry = LogEntry.objects.get(object_id=str(view.pk))
    assert entry.user == salesmgr and entry.change_message == "Shared with the team."
    services.saved_view_share(view=view, by=salesmgr, shared=False)
    assert SavedView.objects.get(pk=view.pk).shared is False
    assert LogEntry.objects.filter(object_id=str(view.pk)).latest("pk").change_message == "No longer shared with the team."
    # Sharing what is already shared writes nothing.
    services.saved_view_share(view=view, by=salesmgr, shared=False)
    assert LogEntry.objects.filter(object_id=str(view.pk)).count() == 2


def test_a_rep_cannot_share_their_own_view(rep: User) -> None:
    view = save(rep)
    with pytest.raises(PermissionDenied):
        services.saved_view_share(view=view, by=rep, shared=True)
    assert SavedView.objects.get(pk=view.pk).shared is False
    assert not LogEntry.objects.exists()


def test_only_the_owner_renames_or_deletes(rep: User, salesmgr: User) -> None:
    view = save(salesmgr, shared=True)
    for change in (lambda: services.saved_view_rename(view=view, by=rep, name="Mine now"),
                   lambda: services.saved_view_delete(view=view, by=rep),
                   lambda: services.saved_view_share(view=view, by=rep, shared=False)):
        with pytest.raises(PermissionDenied):
            change()
    assert SavedView.objects.get(pk=view.pk).name == "Big deals"
    services.saved_view_rename(view=view, by=salesmgr, name="Large deals")
    assert SavedView.objects.get(pk=view.pk).name == "Large deals"
    services.saved_view_delete(view=view, by=salesmgr)
    assert not SavedView.objects.exists()


def test_renaming_to_a_taken_name_is_refused(rep: User) -> None:
    save(rep, name="One")
    two = save(rep, name="Two")
    with pytest.raises(ValidationError) as refused:
        services.saved_view_rename(view=two, by=rep, name="one")
    assert "name" in refused.value.message_dict
    assert SavedView.objects.get(pk=two.pk).name == "Two"
    services.saved_view_rename(view=two, by=rep, name="TWO")  # its own name, in another case
    assert SavedView.objects.get(pk=two.pk).name == "TWO"


# --- The bar on the list pages ----------------------------------------------------------------


@pytest.mark.parametrize("list_name", LIST_PAGES)
def test_every_list_page_shows_my_views_and_the_teams_shared_ones(
    list_name: str, rep: User, rep2: User, salesmgr: User,
) -> None:
    save(rep, name="My view", list_name=list_name, query="q=acme")
    save(salesmgr, name="Team view", list_name=list_name, query="q=globex", shared=True)
    save(rep2, name="Rep2 private", list_name=list_name, query="q=x")
    save(rep, name="On another list", list_name=next(n for n in LIST_PAGES if n != list_name))
    content = client_for(rep).get(reverse(list_name)).content.decode()
    assert "Saved views" in content
    page = reverse(list_name)
    assert f'href="{page}?q=acme"' in content and "My view" in content
    assert f'href="{page}?q=globex"' in content and "Team view" in content
    assert "Rep2 private" not in content and "On another list" not in content
    assert "Save this view" in content
    assert "Share with the team" not in content  # a rep may not share


def test_the_bar_marks_the_view_being_looked_at_and_offers_managers_the_sharing(salesmgr: User) -> None:
    save(salesmgr, name="Won", query="status=won&sort=-amount")
    content = client_for(salesmgr).get(reverse("crm:deal_list"), {"sort": "-amount", "status": "won", "page": 1}).content.decode()
    assert 'aria-current="page">Won</a>' in content
    assert '<input type="hidden" name="query" value="sort=-amount&amp;status=won">' in content
    assert "Share with the team" in content


def test_the_bar_costs_one_query_whatever_the_number_of_views(rep: User, salesmgr: User) -> None:
    from tests.scenarios import queries

    client = client_for(rep)
    save(rep, name="First")
    few = queries(client, reverse("crm:deal_list"))
    for i in range(12):
        save(rep, name=f"Mine {i}")
        save(salesmgr, name=f"Team {i}", shared=True)
    assert queries(client, reverse("crm:deal_list")) == few


# --- The bar's forms --------------------------------------------------------------------------


def test_saving_the_current_view_from_the_bar_opens_it(rep: User) -> None:
    response = client_for(rep).post(sv_url("create"), {
        "list_name": "crm:deal_list", "query": "stage=won&page=2", "name": "Wins",
    })
    view = SavedView.objects.get()
    assert (view.user, view.name, view.query, view.shared) == (rep, "Wins", "stage=won", False)
    assert response.status_code == 302 and response["Location"] == "/deals/?stage=won"
    assert said(response) == ["View \u201cWins\u201d saved."]


def test_a_rep_asking_to_share_from_the_bar_is_refused_and_nothing_is_saved(rep: User) -> None:
    response = client_for(rep).post(sv_url("create"), {
        "list_name": "crm:deal_list", "query": "", "name": "Wins", "shared": "on",
    })
    assert response.status_code == 403
    assert not SavedView.objects.exists()


def test_a_manager_shares_from_the_bar(salesmgr: User, rep: User) -> None:
    client_for(salesmgr).post(sv_url("create"), {"list_name": "crm:contact_list", "query": "role=billing",
                                                  "name": "Billing", "shared": "on"})
    view = SavedView.objects.get()
    assert view.shared and LogEntry.objects.filter(object_id=str(view.pk)).exists()
    assert "Billing" in client_for(rep).get(reverse("crm:contact_list")).content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "Name: This field is required."),
        ({"name": "Taken"}, "Name: You already have a view named \u201cTaken\u201d on this list."),
        ({"list_name": "crm:user_list"}, "List: Select a valid choice."),
        ({"name": "a\x00b"}, "Name:"),
    ],
)
def test_bad_input_from_the_bar_is_named_and_nothing_is_saved(rep: User, data: dict[str, str], message: str) -> None:
    save(rep, name="Taken")
    body = {"list_name": "crm:deal_list", "query": "stage=lead", "name": "New", **data}
    response = client_for(rep).post(sv_url("create"), body)
    assert response.status_code == 302
    assert any(m.startswith(message) for m in said(response)), said(response)
    assert SavedView.objects.count() == 1


def test_rename_share_and_delete_from_the_bar(salesmgr: User) -> None:
    view = save(salesmgr)
    client = client_for(salesmgr)
    assert client.post(sv_url("rename", view.pk), {"name": "Huge deals"})["Location"] == view.url
    assert SavedView.objects.get(pk=view.pk).name == "Huge deals"
    client.post(sv_url("share", view.pk), {"shared": "on"})
    assert SavedView.objects.get(pk=view.pk).shared is True
    client.post(sv_url("share", view.pk), {})
    assert SavedView.objects.get(pk=view.pk).shared is False
    assert LogEntry.objects.filter(object_id=str(view.pk)).count() == 2
    response = client.post(sv_url("delete", view.pk))
    assert response["Location"] == "/deals/" and not SavedView.objects.exists()


def test_another_persons_view_is_404_to_change_even_when_shared(rep: User, salesmgr: User) -> None:
    view = save(salesmgr, shared=True)
    client = client_for(rep)
    assert client.post(sv_url("rename", view.pk), {"name": "Mine"}).status_code == 404
    assert client.post(sv_url("share", view.pk), {}).status_code == 404
    assert client.post(sv_url("delete", view.pk)).status_code == 404
    assert client.post(sv_url("delete", 999999)).status_code == 404
    assert SavedView.objects.get(pk=view.pk).name == "Big deals"


def test_a_rep_sharing_their_view_is_403(rep: User) -> None:
    view = save(rep)
    assert client_for(rep).post(sv_url("share", view.pk), {"shared": "on"}).status_code == 403
    assert SavedView.objects.get(pk=view.pk).shared is False


def test_the_forms_take_posts_only_and_ask_to_log_in(rep: User) -> None:
    view = save(rep)
    assert client_for(rep).get(sv_url("create")).status_code == 405
    assert client_for(rep).get(sv_url("delete", view.pk)).status_code == 405
    assert client_for(None).post(sv_url("delete", view.pk)).status_code == 302
    assert SavedView.objects.exists()
