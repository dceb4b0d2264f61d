"""Promises, their reviews and the handover's life, through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import Conflict
from crm.models import Account, AccountTeamMember, Activity, OwnershipChange
from delivery.models import Project
from flows import actions as flows
from handover import services, tasks
from handover.models import Handover, Promise
from tests.scenarios import approved, ready_to_submit


def test_winning_a_deal_drafts_its_handover_prefilled(won, deal):
    assert won.state == "draft" and won.rep == deal.owner
    assert "Robot arm" in won.purchased and "Installation" in won.purchased
    assert {c.contact.first_name for c in won.contacts.all()} == {"Alice", "Bruno"}
    assert Activity.objects.filter(event_type="handover.created", deal=deal).count() == 1


def test_a_promise_records_its_maker_and_an_event(promise, rep):
    assert promise.made_by == rep and promise.state == "active"
    assert Activity.objects.filter(event_type="promise.recorded", data__promise=promise.pk).count() == 1


def test_only_the_account_sales_team_records_promises(deal, delivery, outsider, salesmgr):
    for user in (delivery, outsider, salesmgr):
        with pytest.raises(PermissionDenied):
            services.promise_record(deal=deal, by=user, kind="other", description="x", source="call")
    assert not Promise.objects.exists()


def test_a_promise_to_another_accounts_contact_is_refused(deal, rep, other_account):
    with pytest.raises(ValidationError) as exc:
        services.promise_record(
            deal=deal, by=rep, kind="other", description="x", source="call", made_to=other_account.contacts.first()
        )
    assert "made_to" in exc.value.message_dict
    assert not Promise.objects.exists()


def test_bad_promise_input_names_the_field(deal, rep):
    with pytest.raises(ValidationError) as exc:
        services.promise_record(deal=deal, by=rep, kind="bribe", description="", source="telepathy")
    assert {"kind", "description", "source"} <= set(exc.value.message_dict)


def test_the_reviewers_role_decides_the_review_and_the_latest_counts(promise, salesmgr, deliverymgr, rep):
    services.promise_review(promise=promise, by=salesmgr, verdict="at_risk", comment="Tight")
    services.promise_review(promise=promise, by=salesmgr, verdict="ok")
    services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    promise = Promise.objects.with_reviews().get(pk=promise.pk)
    assert promise.latest_sales_review.verdict == "ok"
    assert promise.latest_feasibility_review.verdict == "feasible"
    assert promise.reviews.count() == 3
    with pytest.raises(ValidationError):
        services.promise_review(promise=promise, by=salesmgr, verdict="feasible")
    with pytest.raises(PermissionDenied):
        services.promise_review(promise=promise, by=rep, verdict="ok")


def test_submit_needs_purchase_expectations_and_contacts(won, rep):
    with pytest.raises(ValidationError) as exc:
        services.handover_submit(handover=won, by=rep)
    assert "customer_expectations" in exc.value.message_dict
    assert Handover.objects.get(pk=won.pk).state == "draft"


def test_approval_is_blocked_by_a_not_acceptable_promise_until_it_is_reset(won, rep, salesmgr, promise, account):
    ready_to_submit(won, rep)
    services.handover_submit(handover=won, by=rep)
    services.promise_review(
        promise=promise, by=salesmgr, verdict="not_acceptable", comment="We never install in 2 weeks"
    )
    with pytest.raises(ValidationError) as exc:
        services.handover_approve(handover=won, by=salesmgr)
    assert "promises" in exc.value.message_dict
    # The rep cannot change promises once submitted; the sales manager documents the reset.
    services.promise_reset(
        promise=promise,
        by=salesmgr,
        expectation="Installed by 15 March",
        agreed_by=account.contacts.get(first_name="Alice"),
        agreed_on=timezone.localdate(),
    )
    handover = services.handover_approve(handover=won, by=salesmgr)
    assert handover.state == "sales_approved" and handover.accept_deadline > timezone.now()
    assert Promise.objects.get(pk=promise.pk).reset_expectation == "Installed by 15 March"


def test_returning_needs_a_reason_and_goes_back_to_the_rep(
    won, rep, salesmgr, mailoutbox, django_capture_on_commit_callbacks
):
    ready_to_submit(won, rep)
    services.handover_submit(handover=won, by=rep)
    with pytest.raises(ValidationError):
        services.handover_return(handover=won, by=salesmgr, reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        services.handover_return(handover=won, by=salesmgr, reason="Expectations are vague")
    assert Handover.objects.get(pk=won.pk).state == "returned"
    assert [m.to for m in mailoutbox] == [[rep.email]] and "Expectations are vague" in mailoutbox[0].body
    services.handover_submit(handover=won, by=rep)  # edited and resubmitted
    assert Handover.objects.get(pk=won.pk).state == "submitted"


def test_accepting_names_the_owner_hands_over_the_account_and_emails_after_commit(
    won,
    rep,
    salesmgr,
    deliverymgr,
    delivery,
    promise,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    approved(won, rep, salesmgr)
    services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    with django_capture_on_commit_callbacks(execute=True):
        handover = flows.handover_accept(handover=won, by=deliverymgr, delivery_owner=delivery)
    # What started on acceptance (the delivery project), once, for this handover.
    seen = list(Project.objects.filter(account=won.account_id).values_list("handover_id", flat=True))
    assert handover.state == "accepted" and handover.delivery_owner == delivery and seen == [won.pk]
    account = Account.objects.get(pk=won.account_id)
    assert account.owner == delivery and account.lifecycle == "onboarding"
    team = AccountTeamMember.objects.current().filter(account=account)
    assert {(m.user.username, m.role) for m in team} >= {
        ("delivery", "delivery_owner"),
        ("delivery", "owner"),
        ("rep", "sales_rep"),
    }
    change = OwnershipChange.objects.filter(account=account).first()
    assert (change.reason, change.from_user, change.to_user) == ("handover", rep, delivery)
    to = sorted(m.to[0] for m in mailoutbox)
    assert to == sorted(["alice@acme.example", "bruno@acme.example", rep.email, delivery.email])
    intro = next(m for m in mailoutbox if m.to == ["alice@acme.example"])
    assert "if anything is not as you expected, call me" in intro.body.lower() and delivery.email in intro.body
    # The task is idempotent: a redelivery sends nothing more.
    assert tasks.send_acceptance_emails(won.pk) == 0 and len(mailoutbox) == 4


def test_acceptance_is_refused_while_a_promise_is_not_feasible(won, rep, salesmgr, deliverymgr, delivery, promise):
    approved(won, rep, salesmgr)
    services.promise_review(promise=promise, by=deliverymgr, verdict="not_feasible", comment="No installer free")
    with pytest.raises(ValidationError) as exc:
        flows.handover_accept(handover=won, by=deliverymgr, delivery_owner=delivery)
    assert "promises" in exc.value.message_dict
    services.promise_withdraw(promise=promise, by=salesmgr, reason="Customer agreed to drop it")
    assert flows.handover_accept(handover=won, by=deliverymgr, delivery_owner=delivery).state == "accepted"


def test_a_rollback_after_accept_sends_no_email(
    won, rep, salesmgr, deliverymgr, delivery, promise, mailoutbox, django_capture_on_commit_callbacks
):
    approved(won, rep, salesmgr)
    services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            flows.handover_accept(handover=won, by=deliverymgr, delivery_owner=delivery)
            raise RuntimeError("a later step failed")
    assert callbacks == [] and mailoutbox == []
    assert Handover.objects.get(pk=won.pk).state == "sales_approved"
    assert Account.objects.get(pk=won.account_id).owner == rep


def test_the_delivery_owner_must_be_a_delivery_team_member(won, rep, salesmgr, deliverymgr, promise):
    approved(won, rep, salesmgr)
    services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    with pytest.raises(ValidationError) as exc:
        flows.handover_accept(handover=won, by=deliverymgr, delivery_owner=rep)
    assert "delivery_owner" in exc.value.message_dict


def test_rejecting_goes_back_to_the_rep_with_the_reason(won, rep, salesmgr, deliverymgr):
    approved(won, rep, salesmgr)
    handover = services.handover_reject(handover=won, by=deliverymgr, reason="No capacity in March")
    assert handover.state == "rejected" and handover.last_reason == "No capacity in March"
    assert handover.accept_deadline is None


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("approve", "draft"),
        ("accept", "draft"),
        ("reject", "submitted"),
        ("return", "sales_approved"),
        ("submit", "submitted"),
        ("accept", "submitted"),
    ],
)
def test_illegal_transitions_are_conflicts_and_change_nothing(
    action, state, won, rep, salesmgr, deliverymgr, delivery, promise
):
    if state in ("submitted", "sales_approved"):
        ready_to_submit(won, rep)
        services.handover_submit(handover=won, by=rep)
    if state == "sales_approved":
        services.promise_review(promise=promise, by=salesmgr, verdict="ok")
        services.handover_approve(handover=won, by=salesmgr)
    calls = {
        "approve": lambda: services.handover_approve(handover=won, by=salesmgr),
        "accept": lambda: flows.handover_accept(handover=won, by=deliverymgr, delivery_owner=delivery),
        "reject": lambda: services.handover_reject(handover=won, by=deliverymgr, reason="x"),
        "return": lambda: services.handover_return(handover=won, by=salesmgr, reason="x"),
        "submit": lambda: services.handover_submit(handover=won, by=rep),
    }
    events_before = Activity.objects.count()
    with pytest.raises(Conflict):
        calls[action]()
    assert Handover.objects.get(pk=won.pk).state == state
    assert Activity.objects.count() == events_before


@pytest.mark.parametrize("who", ["rep", "deliverymgr", "delivery"])
def test_only_sales_managers_approve(who, won, rep, salesmgr, deliverymgr, delivery, request):
    ready_to_submit(won, rep)
    services.handover_submit(handover=won, by=rep)
    with pytest.raises(PermissionDenied):
        services.handover_approve(handover=won, by=request.getfixturevalue(who))
    assert Handover.objects.get(pk=won.pk).state == "submitted"


def test_promises_freeze_once_submitted(won, rep, promise):
    ready_to_submit(won, rep)
    services.handover_submit(handover=won, by=rep)
    with pytest.raises(Conflict):
        services.promise_update(promise=promise, by=rep, description="Quietly changed")
    with pytest.raises(Conflict):
        services.promise_record(deal=won.deal, by=rep, kind="other", description="Late addition", source="call")


def test_bulk_reassignment_moves_the_open_handover_but_never_the_promise_maker(won, rep, rep2, salesmgr, promise):
    flows.book_reassign(from_user=rep, to_user=rep2, by=salesmgr)
    assert Handover.objects.get(pk=won.pk).rep == rep2
    assert Promise.objects.get(pk=promise.pk).made_by == rep


def test_overdue_handovers_escalate_once_even_with_two_dispatchers(
    won, rep, salesmgr, deliverymgr, mailoutbox, django_capture_on_commit_callbacks
):
    from outbox import notices
    from outbox.models import Notice

    approved(won, rep, salesmgr)
    Handover.objects.filter(pk=won.pk).update(accept_deadline=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        notices.dispatch()
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.dispatch() == 0  # owed once: the second tick finds nothing
    notice = Notice.objects.get(kind="handover.escalation")
    assert notice.state == "sent" and notice.recipients == [deliverymgr.email]
    Notice.objects.filter(pk=notice.pk).update(state="claimed", claimed_at=timezone.now())
    assert notices.deliver(notice.pk) == "skipped"  # a redelivered send finds the handover claimed
    assert [m.to for m in mailoutbox] == [[deliverymgr.email]]
    assert Activity.objects.filter(event_type="handover.escalated").count() == 1


def test_the_deadline_counts_working_days():
    from datetime import UTC, datetime

    friday = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert services.add_working_days(friday, 2) == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_the_database_refuses_an_accepted_handover_without_owner(won):
    with pytest.raises(IntegrityError), transaction.atomic():
        Handover.objects.filter(pk=won.pk).update(state="accepted")


def test_the_state_cannot_be_written_directly(won, promise):
    with pytest.raises(AttributeError):
        won.state = "accepted"
    with pytest.raises(AttributeError):
        promise.state = "kept"
