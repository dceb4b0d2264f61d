"""The duplicates warning: an account whose normalised name or web domain matches another, or a
contact whose email does, is shown with its candidates before anything is saved; "Create
anyway" saves it. Candidates the user may not see are never named."""

from __future__ import annotations

from typing import Any

import pytest

from crm import duplicates, services
from crm.duplicate_keys import domain_key, name_key
from crm.models import Account, Contact
from tests.scenarios import client_for, crm_url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", [
    "Falcon Freight GmbH", "falcon-freight", "FALCON FREIGHT, Inc.", "Falcon  Freight Ltd.", "Falcón Freight S.A.",
    "falcon freight llc",
])
def test_names_that_differ_in_case_accents_punctuation_and_legal_form_share_a_key(name):
    assert name_key(name) == "falconfreight"


def test_a_legal_form_alone_is_still_a_name():
    assert name_key("GmbH") == "gmbh"
    assert name_key("Freight Co Logistics") == "freightcologistics"  # only trailing forms go


@pytest.mark.parametrize("website", [
    "https://www.falcon.example/about", "falcon.example", "HTTP://Falcon.Example:8080/", "www.falcon.example.",
    "https://user@falcon.example/x?y#z",
])
def test_web_addresses_share_their_host_as_key(website):
    assert domain_key(website) == "falcon.example"


def test_no_website_has_no_domain_key():
    assert domain_key("") == ""
    assert domain_key("https://[broken") == ""


def test_the_services_keep_the_keys(rep):
    account = services.account_create(by=rep, name="Falcon Freight GmbH", website="https://www.falcon.example/")
    assert (account.name_key, account.domain_key) == ("falconfreight", "falcon.example")
    services.account_update(account=account, by=rep, name="Kestrel AG", website="")
    account.refresh_from_db()
    assert (account.name_key, account.domain_key) == ("kestrel", "")


@pytest.fixture
def falcon(rep2) -> Account:
    return services.account_create(by=rep2, name="Falcon Freight GmbH", website="https://www.falcon.example/about")


@pytest.fixture
def mine(rep) -> Account:
    return services.account_create(by=rep, name="Falcon-Freight", website="")


def test_a_matching_name_or_domain_finds_the_account(falcon, salesmgr):
    assert duplicates.account_duplicates(user=salesmgr, name="falcon freight").visible == [falcon]
    assert duplicates.account_duplicates(user=salesmgr, name="Other", website="falcon.example").visible == [falcon]
    assert not duplicates.account_duplicates(user=salesmgr, name="Kestrel", website="kestrel.example")


def test_an_account_the_user_may_not_see_is_counted_not_shown(falcon, rep):
    found = duplicates.account_duplicates(user=rep, name="Falcon Freight")
    assert found.visible == [] and found.hidden == 1
    assert bool(found)


def test_a_merged_account_is_not_a_candidate(falcon, mine, salesmgr):
    from flows import actions as flows

    flows.account_merge(account=mine, into=falcon, by=salesmgr)
    assert duplicates.account_duplicates(user=salesmgr, name="falcon freight").visible == [falcon]


def test_the_check_is_an_index_lookup(falcon, salesmgr, django_assert_max_num_queries):
    for n in range(30):
        services.account_create(by=salesmgr, name=f"Filler {n}")
    with django_assert_max_num_queries(1):
        duplicates.account_duplicates(user=salesmgr, name="Falcon Freight", website="falcon.example")


# --- The create form --------------------------------------------------------------------------


def _create(client: Any, **data: Any) -> Any:
    return client.post(crm_url("account_create"), {"name": "Falcon Freight", "lifecycle": "prospect", **data})


def test_creating_a_likely_duplicate_warns_first_and_saves_nothing(mine, rep):
    count = Account.objects.count()
    response = _create(client_for(rep))
    assert response.status_code == 200
    assert Account.objects.count() == count
    page = response.content.decode()
    assert 'id="duplicates"' in page and 'id="create-anyway"' in page
    assert crm_url("account_detail", mine.pk) in page
    assert "Falcon-Freight" in page


def test_create_anyway_saves_it(mine, rep):
    response = _create(client_for(rep), confirm_duplicate="1")
    assert response.status_code == 302
    assert Account.objects.filter(name="Falcon Freight").exists()


def test_an_account_with_no_match_is_created_at_once(rep):
    response = _create(client_for(rep), name="Kestrel Haulage")
    assert response.status_code == 302


def test_the_warning_does_not_name_an_account_the_user_may_not_see(falcon, rep):
    response = _create(client_for(rep), website="falcon.example")
    page = response.content.decode()
    assert response.status_code == 200 and not Account.objects.filter(name="Falcon Freight").exists()
    assert 'id="duplicates-hidden"' in page
    assert "Falcon Freight GmbH" not in page
    assert crm_url("account_detail", falcon.pk) not in page
    assert "Ask a sales manager" in page


def test_an_archived_match_is_shown_to_restore(mine, rep):
    services.account_archive(account=mine, by=rep)
    page = _create(client_for(rep)).content.decode()
    assert "restore it rather than create it again" in page


# --- Contacts ---------------------------------------------------------------------------------


def _add_contact(client: Any, account: Account, **data: Any) -> Any:
    return client.post(crm_url("contact_create", account.pk), {
        "first_name": "Ali", "role": "other", "preferred_channel": "email", "is_active": "on", **data,
    })


def test_a_contact_with_an_existing_email_warns_first(account, rep):
    count = Contact.objects.count()
    response = _add_contact(client_for(rep), account, email="ALICE@acme.example")
    assert response.status_code == 200 and Contact.objects.count() == count
    page = response.content.decode()
    assert "A contact with this email already exists." in page
    assert "Alice Martin" in page


def test_add_anyway_saves_the_contact(account, rep):
    response = _add_contact(client_for(rep), account, email="ALICE@acme.example", confirm_duplicate="1")
    assert response.status_code == 302
    assert Contact.objects.filter(email="ALICE@acme.example").exists()


def test_a_contact_without_email_is_never_a_duplicate(account, rep):
    assert _add_contact(client_for(rep), account).status_code == 302


def test_a_contact_on_an_account_the_user_may_not_see_is_not_named(account, other_account, rep):
    response = _add_contact(client_for(rep), account, email="Greta@Globex.example")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Klein" not in page  # her name, and her account's link, are not on the page
    assert crm_url("account_detail", other_account.pk) not in page
    assert "on an account you are not on" in page
