"""The merge pages: "Merge into…" on the account page for managers, choosing the survivor,
seeing what moves, confirming; the tombstone's page leads to the survivor; a contact merged
likewise."""

from __future__ import annotations

from typing import Any

import pytest

from crm import services
from crm.models import Account, Activity, Contact
from flows import actions as flows
from tests.scenarios import client_for, crm_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def twin(salesmgr: Any, rep: Any) -> Account:
    """Acme entered again by another rep, with one contact and a deal."""
    acc = services.account_create(by=salesmgr, name="ACME Robotics SA", owner=rep)
    services.contact_create(account=acc, by=salesmgr, first_name="Dora", email="dora@acme.example")
    services.deal_create(account=acc, by=salesmgr, name="Acme spare parts")
    return acc


def test_managers_see_merge_into_on_the_account_page(account, salesmgr, rep):
    assert b'id="merge-into"' in client_for(salesmgr).get(crm_url("account_detail", account.pk)).content
    assert b'id="merge-into"' not in client_for(rep).get(crm_url("account_detail", account.pk)).content


def test_the_merge_page_offers_the_likely_duplicates(account, twin, salesmgr):
    response = client_for(salesmgr).get(crm_url("account_merge", twin.pk))
    assert response.status_code == 200
    assert [a.pk for a in response.context["choices"]] == [account.pk]


def test_the_merge_page_searches_visible_live_accounts_by_name(account, twin, other_account, salesmgr):
    services.account_archive(account=other_account, by=salesmgr)
    response = client_for(salesmgr).get(crm_url("account_merge", twin.pk), {"q": "glob"})
    assert response.context["choices"] == []
    response = client_for(salesmgr).get(crm_url("account_merge", twin.pk), {"q": "acme"})
    assert [a.pk for a in response.context["choices"]] == [account.pk]


def test_choosing_shows_what_moves_and_changes_nothing(account, twin, salesmgr):
    response = client_for(salesmgr).post(crm_url("account_merge", twin.pk), {"into": account.pk})
    assert response.status_code == 200
    assert response.context["moving"]["contacts"] == 1
    assert response.context["moving"]["deals"] == 1
    page = response.content.decode()
    assert f"Merge ACME Robotics SA (#{twin.pk}) into Acme Robotics (#{account.pk})?" in page
    assert Account.objects.get(pk=twin.pk).merged_into is None


def test_confirming_merges_and_the_survivors_timeline_shows_it(account, twin, salesmgr):
    client = client_for(salesmgr)
    response = client.post(crm_url("account_merge", twin.pk), {"into": account.pk, "confirm": "1"})
    assert response.status_code == 302 and response["Location"] == crm_url("account_detail", account.pk)
    page = client.get(response["Location"]).content.decode()
    assert f"Merged ACME Robotics SA (#{twin.pk}) into Acme Robotics (#{account.pk}) by Salesmgr" in page
    assert "Dora" in page


def test_the_tombstones_page_redirects_to_the_survivor_with_a_message(account, twin, salesmgr, rep):
    flows.account_merge(account=twin, into=account, by=salesmgr)
    for user in (salesmgr, rep):  # rep reaches it through the survivor's team
        client = client_for(user)
        response = client.get(crm_url("account_detail", twin.pk))
        assert response.status_code == 302 and response["Location"] == crm_url("account_detail", account.pk)
        page = client.get(response["Location"]).content.decode()
        assert f"Account #{twin.pk} was merged into Acme Robotics" in page


def test_an_outsider_gets_404_for_the_tombstone(account, twin, salesmgr, rep2):
    flows.account_merge(account=twin, into=account, by=salesmgr)
    assert client_for(rep2).get(crm_url("account_detail", twin.pk)).status_code == 404


def test_a_rep_may_not_merge(account, twin, rep):
    assert client_for(rep).get(crm_url("account_merge", twin.pk)).status_code == 403
    response = client_for(rep).post(crm_url("account_merge", twin.pk), {"into": account.pk, "confirm": "1"})
    assert response.status_code == 403
    assert Account.objects.get(pk=twin.pk).merged_into is None


def test_an_outsider_gets_404(account, rep2):
    assert client_for(rep2).get(crm_url("account_merge", account.pk)).status_code == 404


def test_the_merge_page_refuses_the_account_itself_or_an_unknown_one(account, salesmgr):
    client = client_for(salesmgr)
    for into, message in ((account.pk, "cannot be merged into itself"), (999999, "Choose an account you can see"),
                          ("x", "Choose an account you can see")):
        response = client.post(crm_url("account_merge", account.pk), {"into": into, "confirm": "1"})
        assert response.status_code == 200
        assert message in response.content.decode()
    assert Account.objects.get(pk=account.pk).merged_into is None
    assert not Activity.objects.filter(event_type="account.merged").exists()


def test_the_merge_page_refuses_a_tombstone_as_survivor(account, twin, other_account, salesmgr):
    flows.account_merge(account=other_account, into=twin, by=salesmgr)
    response = client_for(salesmgr).post(crm_url("account_merge", account.pk), {"into": other_account.pk,
                                                                                "confirm": "1"})
    assert "was merged into another account" in response.content.decode()
    assert Account.objects.get(pk=account.pk).merged_into is None


def test_the_merge_page_of_a_tombstone_leads_to_its_survivor(account, twin, salesmgr):
    flows.account_merge(account=twin, into=account, by=salesmgr)
    response = client_for(salesmgr).get(crm_url("account_merge", twin.pk))
    assert response.status_code == 302


# --- Contacts ---------------------------------------------------------------------------------


@pytest.fixture
def alice_again(account: Account, rep: Any) -> Contact:
    return services.contact_create(account=account, by=rep, first_name="Alice", last_name="M.",
                                   email="Alice@Acme.example")


def test_a_manager_merges_a_duplicate_contact(account, alice_again, salesmgr):
    alice = account.contacts.get(email="alice@acme.example")
    client = client_for(salesmgr)
    response = client.get(crm_url("contact_merge", alice_again.pk))
    assert response.status_code == 200
    assert f'value="{alice.pk}" checked' in response.content.decode()  # the same email is offered first
    response = client.post(crm_url("contact_merge", alice_again.pk), {"into": alice.pk})
    assert "Merge Alice M. (#" in response.content.decode()
    response = client.post(crm_url("contact_merge", alice_again.pk), {"into": alice.pk, "confirm": "1"})
    assert response.status_code == 302
    assert Contact.objects.get(pk=alice_again.pk).merged_into == alice
    page = client.get(crm_url("account_detail", account.pk)).content.decode()
    assert "Merged contact Alice M." in page
    assert "Alice M.</strong>" not in page  # the tombstone is not among the contacts


def test_a_rep_may_not_merge_contacts(account, alice_again, rep):
    alice = account.contacts.get(email="alice@acme.example")
    response = client_for(rep).post(crm_url("contact_merge", alice_again.pk), {"into": alice.pk, "confirm": "1"})
    assert response.status_code == 403
    assert Contact.objects.get(pk=alice_again.pk).merged_into is None


def test_a_contact_of_another_account_is_not_a_choice(account, other_account, alice_again, salesmgr):
    greta = other_account.contacts.get()
    response = client_for(salesmgr).post(crm_url("contact_merge", alice_again.pk), {"into": greta.pk, "confirm": "1"})
    assert response.status_code == 200
    assert "Choose a contact you can see." in response.content.decode()
    assert Contact.objects.get(pk=alice_again.pk).merged_into is None


def test_a_merged_contacts_edit_page_leads_to_the_account(account, alice_again, salesmgr):
    flows.contact_merge(contact=alice_again, into=account.contacts.get(email="alice@acme.example"), by=salesmgr)
    response = client_for(salesmgr).get(crm_url("contact_edit", alice_again.pk))
    assert response.status_code == 302 and response["Location"] == crm_url("account_detail", account.pk)


def test_a_tombstones_edit_pages_lead_to_the_survivor(account, twin, salesmgr):
    flows.account_merge(account=twin, into=account, by=salesmgr)
    client = client_for(salesmgr)
    for name in ("account_edit", "contact_create"):
        response = client.post(crm_url(name, twin.pk), {"name": "Renamed", "first_name": "X", "lifecycle": "prospect"})
        assert response.status_code == 302 and response["Location"] == crm_url("account_detail", twin.pk)
    assert Account.objects.get(pk=twin.pk).name == "ACME Robotics SA"
    assert not Contact.objects.filter(first_name="X").exists()


def test_marking_a_merged_contact_as_left_says_why_not(account, alice_again, salesmgr):
    flows.contact_merge(contact=alice_again, into=account.contacts.get(email="alice@acme.example"), by=salesmgr)
    response = client_for(salesmgr).post(crm_url("contact_left", alice_again.pk), follow=True)
    assert "was merged into another record" in response.content.decode()
    assert Contact.objects.get(pk=alice_again.pk).is_active


def test_the_merge_search_refuses_a_control_character_and_says_so(account, twin, salesmgr):
    response = client_for(salesmgr).get(crm_url("account_merge", twin.pk), {"q": "acme\x00"})
    assert response.status_code == 200
    assert response.context["search"].errors["q"]
    assert response.context["q"] == ""
