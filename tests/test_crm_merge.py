"""Merging two accounts (flows.account_merge) and two contacts (flows.contact_merge): every row
that points at the merged record goes to the survivor, the merged one stays as a tombstone,
both timelines record it; managers only; bad merges change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from core.exceptions import Conflict
from crm import account_page_cache, services
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, OwnershipChange
from customer_links.models import CustomerLink
from delivery.models import Problem, Project, Stage
from flows import actions as flows
from handover.models import Handover, Promise
from insights import snapshots
from insights.forms import Filters
from insights.selectors import Period
from tests.scenarios import fill_every_part_of_the_page
from touchpoints.models import SurveyResponse, Touchpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def survivor(salesmgr: Any, rep2: Any) -> Account:
    acc = services.account_create(by=salesmgr, name="Acme Robotics GmbH", owner=rep2, city="Lyon")
    services.contact_create(account=acc, by=salesmgr, first_name="Chloe", last_name="Durand",
                            email="chloe@acme.example")
    services.deal_create(account=acc, by=salesmgr, name="Acme spare parts")
    return acc


@pytest.fixture
def rich(project: Any, account: Account, rep: Any, rep2: Any, delivery: Any, salesmgr: Any) -> Account:
    """The `project` fixture's account with something in every part of its page: a won deal
    with its handover and promise, a project with stages and check-ups (one answered by
    survey), a problem, a portal link, two reassignments and a logged call."""
    fill_every_part_of_the_page(account, rep=rep, rep2=rep2, delivery=delivery, salesmgr=salesmgr)
    return Account.objects.get(pk=account.pk)


def _counts(account: Account) -> dict[str, int]:
    return services.rows_pointing_at(account)


def test_every_row_pointing_at_the_merged_account_moves_to_the_survivor(rich, survivor, salesmgr):
    before_rich, before_survivor = _counts(rich), _counts(survivor)
    assert {"projects", "handovers", "promises", "problems", "touchpoints", "customer links"} <= set(before_rich)

    flows.account_merge(account=rich, into=survivor, by=salesmgr)

    # On the tombstone: only its own record of the merge, whatever app the rows belong to.
    assert _counts(rich) == {"activities": 1}
    after = _counts(survivor)
    for kind in set(before_rich) | set(before_survivor):
        if kind in ("activities", "account team members"):
            continue  # the merge adds events and seats: checked below
        assert after[kind] == before_rich.get(kind, 0) + before_survivor.get(kind, 0), kind
    for model in (Contact, Deal, OwnershipChange, Handover, Promise, Project, Stage, Problem, Touchpoint,
                  CustomerLink):
        assert not model.objects.filter(account=rich).exists(), model
    assert not AccountTeamMember.objects.filter(account=rich).exists()


def test_the_merged_account_becomes_a_tombstone(rich, survivor, salesmgr):
    flows.account_merge(account=rich, into=survivor, by=salesmgr)
    rich.refresh_from_db()
    assert rich.merged_into == survivor
    assert rich.archived_at is not None
    assert not Account.objects.live().filter(pk=rich.pk).exists()
    assert Account.objects.live().filter(pk=survivor.pk).exists()


def test_both_timelines_record_the_merge(rich, survivor, salesmgr):
    flows.account_merge(account=rich, into=survivor, by=salesmgr)
    subject = f"Merged Acme Robotics (#{rich.pk}) into Acme Robotics GmbH (#{survivor.pk}) by Salesmgr"
    for account in (rich, survivor):
        event = Activity.objects.get(account=account, event_type="account.merged")
        assert event.subject == subject
        assert event.actor == salesmgr
        assert event.data["moved"]["projects"] == 1


def test_the_merged_accounts_team_joins_the_survivor_with_its_history(rich, survivor, salesmgr, rep, rep2,
                                                                     presales, delivery):
    was_current = set(AccountTeamMember.objects.current().filter(account=rich).values_list("user_id", flat=True))
    flows.account_merge(account=rich, into=survivor, by=salesmgr)
    current = AccountTeamMember.objects.current().filter(account=survivor)
    assert set(current.values_list("user_id", flat=True)) >= was_current
    # rep owned the merged account; rep2 owns the survivor and stays its only owner.
    assert current.get(role="owner").user == rep2
    assert current.filter(user=rep, role="sales_rep").exists()
    assert current.filter(user=presales, role="presales").exists()
    # The merged account's seats are kept as the survivor's past team.
    assert AccountTeamMember.objects.filter(account=survivor, user=rep, role="owner", ended_at__isnull=False).exists()


def test_only_one_primary_contact_remains(rich, survivor, salesmgr):
    flows.account_merge(account=rich, into=survivor, by=salesmgr)
    assert Contact.objects.filter(account=survivor, is_primary=True).count() == 1


def test_the_merged_accounts_portal_link_is_revoked_and_other_links_move(rich, survivor, salesmgr):
    portal = CustomerLink.objects.get(purpose="portal", account=rich, revoked_at__isnull=True)
    flows.account_merge(account=rich, into=survivor, by=salesmgr)
    portal.refresh_from_db()
    assert portal.revoked_at is not None
    assert portal.account == survivor
    survey = CustomerLink.objects.filter(purpose="survey").first()
    assert survey is not None and survey.account == survivor


def test_the_merge_refreshes_both_account_pages(rich, survivor, salesmgr):
    keys = (account_page_cache.key_for(rich.pk), account_page_cache.key_for(survivor.pk))
    flows.account_merge(account=rich, into=survivor, by=salesmgr)
    assert account_page_cache.key_for(rich.pk) != keys[0]
    assert account_page_cache.key_for(survivor.pk) != keys[1]


@pytest.mark.parametrize("dashboard", snapshots.DASHBOARDS)
def test_the_merge_makes_every_dashboard_recompute_once_it_commits(
    dashboard, account, survivor, salesmgr, django_capture_on_commit_callbacks,
):
    filters = Filters(period=Period.last_days(90), team=None)
    figures = getattr(snapshots, f"{dashboard}_figures")
    figures(filters=filters, viewer=salesmgr)
    assert figures(filters=filters, viewer=salesmgr).reused is True
    with django_capture_on_commit_callbacks(execute=True):
        flows.account_merge(account=account, into=survivor, by=salesmgr)
    assert figures(filters=filters, viewer=salesmgr).reused is False


def test_a_rep_cannot_merge(account, survivor, rep):
    with pytest.raises(PermissionDenied):
        flows.account_merge(account=account, into=survivor, by=rep)
    assert Account.objects.get(pk=account.pk).merged_into is None


def test_an_account_cannot_be_merged_into_itself(account, salesmgr):
    with pytest.raises(ValidationError) as exc:
        flows.account_merge(account=account, into=account, by=salesmgr)
    assert "into" in exc.value.message_dict
    assert Account.objects.get(pk=account.pk).merged_into is None


def test_nothing_merges_into_a_tombstone(account, other_account, survivor, salesmgr):
    flows.account_merge(account=other_account, into=survivor, by=salesmgr)
    contacts = account.contacts.count()
    with pytest.raises(ValidationError) as exc:
        flows.account_merge(account=account, into=Account.objects.get(pk=other_account.pk), by=salesmgr)
    assert "merged into another account" in exc.value.message_dict["into"][0]
    assert account.contacts.count() == contacts
    assert Account.objects.get(pk=account.pk).merged_into is None


def test_a_tombstone_cannot_be_merged_again(account, other_account, survivor, salesmgr):
    flows.account_merge(account=other_account, into=survivor, by=salesmgr)
    with pytest.raises(Conflict):
        flows.account_merge(account=Account.objects.get(pk=other_account.pk), into=account, by=salesmgr)


def test_nothing_merges_into_an_archived_account(account, survivor, salesmgr):
    services.account_archive(account=survivor, by=salesmgr)
    with pytest.raises(ValidationError) as exc:
        flows.account_merge(account=account, into=survivor, by=salesmgr)
    assert "restore it" in exc.value.message_dict["into"][0]
    assert not Contact.objects.filter(account=survivor, first_name="Alice").exists()


def test_a_failure_part_way_leaves_everything_in_place(rich, survivor, salesmgr, monkeypatch):
    """One transaction: a failure in crm's last step rolls back what the other apps moved."""
    def fail(**kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "account_merge_finish", fail)
    with pytest.raises(RuntimeError):
        flows.account_merge(account=rich, into=survivor, by=salesmgr)
    assert Project.objects.filter(account=rich).exists()
    assert Touchpoint.objects.filter(account=rich).exists()


# --- Contacts ---------------------------------------------------------------------------------


@pytest.fixture
def twin(account: Account, rep: Any) -> Contact:
    """Alice entered a second time, with her phone number."""
    return services.contact_create(account=account, by=rep, first_name="Alice", last_name="Martin",
                                   email="ALICE@acme.example", phone="+33 4 72 00 00 00")


def test_a_contacts_promises_signoffs_links_checkups_and_answers_move_to_the_survivor(rich, salesmgr):
    alice = rich.contacts.get(first_name="Alice", email="alice@acme.example")
    survivor = services.contact_create(account=rich, by=salesmgr, first_name="Alice", last_name="Martin-Roux")
    Promise.objects.filter(account=rich).update(made_to=alice)
    Touchpoint.objects.filter(account=rich).update(contact=alice)
    SurveyResponse.objects.update(contact=alice)
    before = services.rows_pointing_at(alice)
    assert {"promises", "touchpoints", "customer links", "survey responses"} <= set(before)

    flows.contact_merge(contact=alice, into=survivor, by=salesmgr)

    assert services.rows_pointing_at(alice) == {}
    after = services.rows_pointing_at(survivor)
    for kind, n in before.items():
        assert after[kind] >= n, kind
    alice.refresh_from_db()
    survivor.refresh_from_db()
    assert alice.merged_into == survivor and alice.archived_at is not None
    assert survivor.email == "alice@acme.example"  # taken from the merged contact, which had one
    assert survivor.last_name == "Martin-Roux"  # the survivor's own details win


def test_the_contact_merge_is_on_the_timeline(account, twin, salesmgr):
    alice = account.contacts.get(email="alice@acme.example")
    flows.contact_merge(contact=twin, into=alice, by=salesmgr)
    event = Activity.objects.get(account=account, event_type="contact.merged")
    assert event.subject == f"Merged contact Alice Martin (#{twin.pk}) into Alice Martin (#{alice.pk}) by Salesmgr"
    alice.refresh_from_db()
    assert alice.phone == "+33 4 72 00 00 00"


def test_the_primary_flag_goes_to_the_survivor(account, twin, salesmgr):
    alice = account.contacts.get(email="alice@acme.example")
    assert alice.is_primary
    flows.contact_merge(contact=alice, into=twin, by=salesmgr)
    assert Contact.objects.get(pk=twin.pk).is_primary
    assert not Contact.objects.get(pk=alice.pk).is_primary


def test_a_rep_cannot_merge_contacts(account, twin, rep):
    with pytest.raises(PermissionDenied):
        flows.contact_merge(contact=twin, into=account.contacts.get(email="alice@acme.example"), by=rep)
    assert Contact.objects.get(pk=twin.pk).merged_into is None


def test_contacts_of_two_accounts_are_not_merged(account, other_account, salesmgr):
    alice = account.contacts.get(first_name="Alice")
    with pytest.raises(ValidationError) as exc:
        flows.contact_merge(contact=alice, into=other_account.contacts.get(), by=salesmgr)
    assert "same account" in exc.value.message_dict["into"][0]
    assert Contact.objects.get(pk=alice.pk).merged_into is None


def test_a_contact_cannot_be_merged_into_itself(account, salesmgr):
    alice = account.contacts.get(first_name="Alice")
    with pytest.raises(ValidationError):
        flows.contact_merge(contact=alice, into=alice, by=salesmgr)


def test_a_merged_contact_cannot_be_changed(account, twin, salesmgr):
    alice = account.contacts.get(email="alice@acme.example")
    flows.contact_merge(contact=twin, into=alice, by=salesmgr)
    with pytest.raises(Conflict):
        flows.contact_update(contact=Contact.objects.get(pk=twin.pk), by=salesmgr, phone="1")
