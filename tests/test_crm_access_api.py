"""crm's REST API answers 404 to outsiders for every object kind and every operation
(reliability.md 1), and its lists keep to their query budgets."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from crm import services
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    Deal,
    OwnershipChange,
)
from tests.scenarios import API, api_for, make_user

# --- Outsiders: 404 for every object kind and every operation (reliability 1) ---------------


def _targets(account: Account, deal: Deal) -> dict[str, int]:
    return {
        "account": account.pk,
        "contact": account.contacts.first().pk,
        "deal": deal.pk,
        "activity": Activity.objects.filter(account=account).first().pk,
    }


OUTSIDER_OPERATIONS = [
    ("get", "/accounts/{account}/", None),
    ("put", "/accounts/{account}/", {"name": "Mine now"}),
    ("patch", "/accounts/{account}/", {"name": "Mine now"}),
    ("get", "/accounts/{account}/timeline/", None),
    ("get", "/accounts/{account}/ownership/", None),
    ("get", "/accounts/{account}/team/", None),
    ("post", "/accounts/{account}/team/", {"user": "me", "role": "sales_rep"}),
    ("post", "/accounts/{account}/reassign/", {"to_user": "me"}),
    ("get", "/contacts/{contact}/", None),
    ("put", "/contacts/{contact}/", {"first_name": "Eve"}),
    ("patch", "/contacts/{contact}/", {"first_name": "Eve"}),
    ("get", "/deals/{deal}/", None),
    ("put", "/deals/{deal}/", {"name": "Mine"}),
    ("patch", "/deals/{deal}/", {"name": "Mine"}),
    ("post", "/deals/{deal}/move/", {"stage": "proposal"}),
    ("post", "/deals/{deal}/win/", None),
    ("post", "/deals/{deal}/lose/", {"reason": "Sabotage"}),
    ("get", "/activities/{activity}/", None),
]


@pytest.mark.parametrize(("method", "template", "body"), OUTSIDER_OPERATIONS)
@pytest.mark.parametrize("persona", ["rep2", "delivery", "outsider"])
def test_another_reps_objects_answer_404_and_stay_unchanged(request, account, deal, persona, method, template, body):
    user = request.getfixturevalue(persona)
    url = API + template.format(**_targets(account, deal))
    if body:
        body = {k: (user.pk if v == "me" else v) for k, v in body.items()}
    before = (Account.objects.get(pk=account.pk).name, Deal.objects.get(pk=deal.pk).stage,
              OwnershipChange.objects.count(), Activity.objects.count(), AccountTeamMember.objects.count())
    response = getattr(api_for(user), method)(url, body, format="json")
    assert response.status_code == 404, (url, response.content)
    assert (Account.objects.get(pk=account.pk).name, Deal.objects.get(pk=deal.pk).stage,
            OwnershipChange.objects.count(), Activity.objects.count(), AccountTeamMember.objects.count()) == before


def test_a_missing_object_and_a_hidden_one_answer_alike(account, rep2):
    hidden = api_for(rep2).get(f"{API}/accounts/{account.pk}/")
    missing = api_for(rep2).get(f"{API}/accounts/999999/")
    junk = api_for(rep2).get(f"{API}/accounts/0.5/")
    assert hidden.status_code == missing.status_code == junk.status_code == 404
    assert hidden.json() == missing.json() == junk.json()


# --- Query budgets --------------------------------------------------------------------------


@pytest.fixture
def big_book(rep: User, presales: User) -> None:
    """65 accounts, each with a contact, a deal with two line items and a logged call."""
    for i in range(65):
        acc = services.account_create(by=rep, name=f"Account {i:03}")
        AccountTeamMember.objects.create(account=acc, user=presales, role=AccountTeamMember.Role.PRESALES)
        services.contact_create(account=acc, by=rep, first_name=f"Person {i}")
        services.deal_create(
            account=acc, by=rep, name=f"Deal {i}",
            line_items=[{"name": "A", "quantity": 1, "unit_price": 1}, {"name": "B", "quantity": 2, "unit_price": 3}],
        )
        services.activity_log(account=acc, by=rep, kind="call", subject=f"Call {i}")


@pytest.mark.parametrize("path", ["accounts", "deals", "contacts", "activities"])
def test_api_lists_take_a_fixed_number_of_queries(big_book, rep, salesmgr, path, django_assert_max_num_queries):
    # The rep sees the book through the team (a subquery); the manager sees everything.
    for user in (rep, salesmgr):
        client = api_for(user)
        with django_assert_max_num_queries(6):
            response = client.get(f"{API}/{path}/", {"page_size": 100})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= 60


def test_the_users_list_takes_a_fixed_number_of_queries(rep, django_assert_max_num_queries):
    for i in range(60):
        make_user(f"person{i}", "Sales rep")
    with django_assert_max_num_queries(6):
        response = api_for(rep).get(f"{API}/users/", {"page_size": 100})
    assert response.json()["count"] == 61
