"""The crm write path: accounts, deals, activities, reassignment and deactivation."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from core.exceptions import Conflict
from crm import services
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, OwnershipChange
from flows import actions as flows


def test_creating_an_account_writes_owner_team_ledger_and_events(rep):
    account = services.account_create(by=rep, name="Initech")
    assert account.owner == rep
    assert AccountTeamMember.objects.current().filter(account=account, user=rep, role="owner").exists()
    change = OwnershipChange.objects.get(account=account)
    assert (change.from_user, change.to_user, change.reason) == (None, rep, "new")
    assert set(Activity.objects.filter(account=account).values_list("event_type", flat=True)) == {
        "account.created", "account.owner_changed",
    }


def test_a_delivery_team_member_cannot_create_accounts(delivery):
    with pytest.raises(PermissionDenied):
        services.account_create(by=delivery, name="Nope")
    assert not Account.objects.exists()


def test_bad_input_names_the_field_and_saves_nothing(rep):
    with pytest.raises(ValidationError) as exc:
        services.account_create(by=rep, name="x" * 201)
    assert "name" in exc.value.message_dict
    assert not Account.objects.exists()


def test_the_first_active_contact_becomes_primary_and_a_leaver_keeps_history(account, rep):
    alice = account.contacts.get(first_name="Alice")
    assert alice.is_primary
    flows.contact_update(contact=account.contacts.get(first_name="Bruno"), by=rep, is_active=False)
    bruno = Contact.objects.get(first_name="Bruno")
    assert bruno.left_at is not None and not bruno.is_active
    assert Activity.objects.filter(account=account, subject__contains="left the organisation").exists()


def test_who_can_be_emailed_is_the_same_rule_in_python_and_sql(account, rep):
    services.contact_create(account=account, by=rep, first_name="Nomail")
    services.contact_create(account=account, by=rep, first_name="Quiet", email="q@acme.example", do_not_contact=True)
    flows.contact_update(contact=account.contacts.get(first_name="Bruno"), by=rep, is_active=False)
    contacts = list(account.contacts.all())
    assert {c.first_name for c in contacts if c.can_be_emailed} == {"Alice"}
    assert set(account.contacts.emailable().values_list("first_name", flat=True)) == {"Alice"}


def test_single_thread_flag_follows_active_contacts(account, rep):
    account = Account.objects.with_thread_counts().get(pk=account.pk)
    assert account.active_contact_count == 2 and account.vendor_people_count == 2
    assert not account.is_single_threaded
    flows.contact_update(contact=account.contacts.get(first_name="Bruno"), by=rep, is_active=False)
    assert Account.objects.single_threaded().filter(pk=account.pk).exists()


def test_winning_freezes_the_seller_and_records_closed_at(deal, rep, salesmgr):
    services.deal_move(deal=deal, by=rep, to="proposal")
    won = flows.deal_win(deal=deal, by=salesmgr)
    assert won.stage == "won" and won.closed_at is not None
    assert won.sold_by == rep  # the rep who worked it, not the manager who clicked
    assert Activity.objects.filter(deal=deal, event_type="deal.won").count() == 1
    assert Account.objects.get(pk=deal.account_id).lifecycle == "customer"


def test_an_illegal_transition_is_a_conflict_and_changes_nothing(deal, rep):
    services.deal_lose(deal=deal, by=rep, reason="Budget cut")
    with pytest.raises(Conflict):
        flows.deal_win(deal=deal, by=rep)
    with pytest.raises(Conflict):
        services.deal_move(deal=deal, by=rep, to="qualified")
    assert Deal.objects.get(pk=deal.pk).stage == "lost"


def test_losing_requires_a_reason(deal, rep):
    with pytest.raises(ValidationError) as exc:
        services.deal_lose(deal=deal, by=rep, reason="  ")
    assert "reason" in exc.value.message_dict
    assert Deal.objects.get(pk=deal.pk).stage == "lead"


def test_the_stage_cannot_be_written_directly(deal):
    with pytest.raises(AttributeError):
        deal.stage = "won"


def test_the_database_refuses_a_won_deal_without_seller(deal):
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.filter(pk=deal.pk).update(stage="won")


def test_reassignment_writes_the_ledger_moves_open_deals_and_emails(account, deal, rep, rep2, salesmgr, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        change = flows.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Call Alice first")
    account.refresh_from_db()
    assert account.owner == rep2
    assert (change.from_user, change.to_user, change.assigned_by) == (rep, rep2, salesmgr)
    assert Deal.objects.get(pk=deal.pk).owner == rep2
    assert AccountTeamMember.objects.current().get(account=account, role="owner").user == rep2
    assert AccountTeamMember.objects.filter(account=account, user=rep, role="owner", ended_at__isnull=False).exists()
    assert len(mailoutbox) == 1 and "Acme Robotics" in mailoutbox[0].subject
    assert "Call Alice first" in mailoutbox[0].body
    assert OwnershipChange.objects.get(pk=change.pk).notified_at is not None


def test_a_rolled_back_reassignment_sends_nothing(account, rep2, salesmgr, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            flows.account_reassign(account=account, to_user=rep2, by=salesmgr)
            raise RuntimeError("boom")
    assert callbacks == [] and mailoutbox == []
    assert OwnershipChange.objects.filter(account=account).count() == 1


def test_only_managers_reassign(account, rep, rep2):
    with pytest.raises(PermissionDenied):
        flows.account_reassign(account=account, to_user=rep2, by=rep)
    assert Account.objects.get(pk=account.pk).owner == rep


def test_book_preview_writes_nothing_and_apply_moves_every_account(account, other_account, rep, rep2, salesmgr, deal):
    services.account_create(by=rep, name="Second account")
    plan = flows.book_reassign(from_user=rep, to_user=rep2, by=salesmgr, preview=True)
    assert plan.account_count == 2 and plan.open_deal_count == 1 and not plan.applied
    assert Account.objects.filter(owner=rep).count() == 2
    plan = flows.book_reassign(from_user=rep, to_user=rep2, by=salesmgr, note="Rep left")
    assert plan.applied and len(plan.changes) == 2
    assert not Account.objects.filter(owner=rep).exists()
    assert OwnershipChange.objects.filter(reason="departure", from_user=rep).count() == 2


def test_deactivating_an_owner_requires_a_successor(account, rep, admin_user):
    with pytest.raises(ValidationError) as exc:
        flows.user_deactivate(user=rep, by=admin_user)
    assert "successor" in exc.value.message_dict
    rep.refresh_from_db()
    assert rep.is_active


def test_deactivation_ends_sessions_and_tokens(client, account, rep, rep2, salesmgr):
    client.force_login(rep)
    Token.objects.create(user=rep)
    assert Session.objects.count() == 1
    flows.user_deactivate(user=rep, by=salesmgr, successor=rep2)
    assert Session.objects.count() == 0
    assert not Token.objects.filter(user=rep).exists()
    assert Account.objects.get(pk=account.pk).owner == rep2
    assert not AccountTeamMember.objects.current().filter(user=rep).exists()


def test_reassignment_sends_the_hook_for_other_apps_inside_the_transaction(account, rep, rep2, salesmgr):
    from django.db import connection

    from crm.signals import account_reassigned

    seen = []

    def receiver(sender, account, from_user, to_user, by, change, **kwargs):
        seen.append((account.pk, from_user, to_user, by, change.pk, connection.in_atomic_block))

    account_reassigned.connect(receiver)
    try:
        change = flows.account_reassign(account=account, to_user=rep2, by=salesmgr)
    finally:
        account_reassigned.disconnect(receiver)
    assert seen == [(account.pk, rep, rep2, salesmgr, change.pk, True)]


def test_successive_reassignments_chain_in_the_ledger(account, rep, rep2, salesmgr):
    flows.account_reassign(account=account, to_user=rep2, by=salesmgr, reason="territory")
    flows.account_reassign(account=account, to_user=rep, by=salesmgr)
    rows = list(OwnershipChange.objects.filter(account=account).order_by("changed_at", "pk"))
    assert [(r.from_user, r.to_user) for r in rows] == [(None, rep), (rep, rep2), (rep2, rep)]
    with pytest.raises(ValidationError) as exc:
        flows.account_reassign(account=account, to_user=rep, by=salesmgr)
    assert "to_user" in exc.value.message_dict


def test_the_team_at_a_past_date_is_shown_as_it_was(account, rep, rep2, salesmgr):
    from django.utils import timezone

    before = timezone.now()
    flows.account_reassign(account=account, to_user=rep2, by=salesmgr)
    owners_then = AccountTeamMember.objects.on(before).filter(account=account, role="owner")
    assert [m.user for m in owners_then] == [rep]
    assert [m.user for m in AccountTeamMember.objects.current().filter(account=account, role="owner")] == [rep2]


def test_the_promise_maker_style_attribution_survives_reassignment(deal, rep, rep2, salesmgr):
    flows.deal_win(deal=deal, by=rep)
    flows.account_reassign(account=deal.account, to_user=rep2, by=salesmgr)
    deal.refresh_from_db()
    assert deal.sold_by == rep and deal.owner == rep  # closed deals do not move


def test_an_activity_in_the_future_is_refused(account, rep):
    from datetime import timedelta

    from django.utils import timezone

    with pytest.raises(ValidationError) as exc:
        services.activity_log(account=account, by=rep, kind="call", subject="Later", occurred_at=timezone.now() + timedelta(days=3))
    assert "occurred_at" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.activity_log(account=account, by=rep, kind="event", subject="Fake event")
    assert "kind" in exc.value.message_dict
    assert not Activity.objects.filter(subject__in=["Later", "Fake event"]).exists()


def test_deleting_an_account_with_history_is_refused(account):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        account.delete()
