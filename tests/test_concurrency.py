"""Two people act on the same object at the same moment (reliability.md 15): the row locks in
the services keep the ownership ledger a chain and let exactly one win of a deal through.

PostgreSQL only: SQLite has no row locks (it serialises whole writes), so these races cannot
happen there and the tests would prove nothing.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from core.exceptions import Conflict
from crm import services
from crm.models import Account, AccountTeamMember, Activity, Deal, OwnershipChange
from flows import actions as flows
from tests.scenarios import run_together

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency tests need PostgreSQL row locks: set DATABASE_URL=postgres://... (CI does)",
    ),
]


def assert_ledger_is_a_chain(account: Account) -> None:
    rows = list(OwnershipChange.objects.filter(account=account).order_by("changed_at", "pk"))
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row.from_user_id == previous.to_user_id, f"ledger broken between {previous.pk} and {row.pk}"
    account.refresh_from_db()
    assert account.owner_id == rows[-1].to_user_id
    owners = AccountTeamMember.objects.current().filter(account=account, role=AccountTeamMember.Role.OWNER)
    assert list(owners.values_list("user_id", flat=True)) == [account.owner_id]


def test_two_concurrent_reassignments_leave_a_consistent_ledger(account, rep2, outsider, salesmgr):
    for _ in range(3):  # a few rounds make the interleaving likelier to bite
        results = run_together(
            lambda: flows.account_reassign(account=account, to_user=rep2, by=salesmgr, note="East"),
            lambda: flows.account_reassign(account=account, to_user=outsider, by=salesmgr, note="West"),
        )
        for result in results:
            # Both apply one after the other, or one finds its target already owns the account.
            assert isinstance(result, (OwnershipChange, ValidationError)), repr(result)
        assert any(isinstance(r, OwnershipChange) for r in results)
        assert_ledger_is_a_chain(account)


def test_concurrent_reassignments_to_the_same_person_write_one_ledger_row(account, rep2, salesmgr):
    results = run_together(
        lambda: flows.account_reassign(account=account, to_user=rep2, by=salesmgr),
        lambda: flows.account_reassign(account=account, to_user=rep2, by=salesmgr),
    )
    assert sorted(type(r).__name__ for r in results) == ["OwnershipChange", "ValidationError"]
    assert OwnershipChange.objects.filter(account=account, to_user=rep2).count() == 1
    assert_ledger_is_a_chain(account)


def test_two_concurrent_wins_of_one_deal_let_exactly_one_through(deal, rep, salesmgr):
    results = run_together(
        lambda: flows.deal_win(deal=deal, by=rep),
        lambda: flows.deal_win(deal=deal, by=salesmgr),
    )
    winners = [r for r in results if isinstance(r, Deal)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(conflicts)) == (1, 1), results
    deal.refresh_from_db()
    assert deal.stage == Deal.Stage.WON and deal.sold_by == rep
    assert Activity.objects.filter(deal=deal, event_type="deal.won").count() == 1


def test_a_win_racing_a_loss_leaves_one_outcome(deal, rep, salesmgr):
    results = run_together(
        lambda: flows.deal_win(deal=deal, by=rep),
        lambda: services.deal_lose(deal=deal, by=salesmgr, reason="Budget cut"),
    )
    assert sum(isinstance(r, Deal) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 1
    deal.refresh_from_db()
    outcome = deal.stage
    assert outcome in (Deal.Stage.WON, Deal.Stage.LOST)
    assert Activity.objects.filter(deal=deal, event_type__in=["deal.won", "deal.lost"]).count() == 1


def test_a_reassignment_racing_a_win_neither_deadlocks_nor_loses_the_deal(deal, rep2, salesmgr):
    # Both touch the account and the deal; the services lock the account first, then the deal.
    results = run_together(
        lambda: flows.account_reassign(account=deal.account, to_user=rep2, by=salesmgr),
        lambda: flows.deal_win(deal=deal, by=salesmgr),
    )
    assert isinstance(results[0], OwnershipChange), repr(results[0])
    assert isinstance(results[1], Deal), repr(results[1])
    deal.refresh_from_db()
    assert deal.stage == Deal.Stage.WON
    assert_ledger_is_a_chain(deal.account)


def test_two_delivery_managers_accepting_one_handover_let_one_through(
    deal, rep, salesmgr, deliverymgr, delivery, mailoutbox,
):
    from datetime import timedelta

    from django.utils import timezone

    from delivery.models import PlanTemplate, PlanTemplateStage
    from delivery.plans import create_default_plans
    from handover import services as handover_services
    from handover.models import Handover
    from tests.scenarios import make_user

    create_default_plans(PlanTemplate, PlanTemplateStage)  # acceptance starts a delivery from a plan; the flush removed them
    second_manager = make_user("deliverymgr2", "Delivery manager")
    second_owner = make_user("delivery2", "Delivery team member")
    promise = handover_services.promise_record(deal=deal, by=rep, kind="timeline", description="Live by May", source="call")
    flows.deal_win(deal=deal, by=rep)
    handover = Handover.objects.get(deal=deal)
    handover_services.handover_update(
        handover=handover, by=rep, customer_expectations="Live by May.", meeting_at=timezone.now() - timedelta(hours=1),
        meeting_held=True,
    )
    handover_services.handover_submit(handover=handover, by=rep)
    handover_services.promise_review(promise=promise, by=salesmgr, verdict="ok")
    handover_services.handover_approve(handover=handover, by=salesmgr)
    handover_services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    mailoutbox.clear()  # the review and acceptance requests of the steps before

    results = run_together(
        lambda: flows.handover_accept(handover=handover, by=deliverymgr, delivery_owner=delivery),
        lambda: flows.handover_accept(handover=handover, by=second_manager, delivery_owner=second_owner),
    )
    winners = [r for r in results if isinstance(r, Handover)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(conflicts)) == (1, 1), results
    handover.refresh_from_db()
    assert handover.state == "accepted" and handover.delivery_owner == winners[0].delivery_owner
    assert Activity.objects.filter(deal=deal, event_type="handover.accepted").count() == 1
    assert OwnershipChange.objects.filter(account=deal.account, reason="handover").count() == 1
    # One set of emails: the two contacts, the rep and the winning delivery owner.
    assert len(mailoutbox) == 4


def test_two_dispatchers_escalate_an_overdue_handover_once(deal, rep, salesmgr, deliverymgr, mailoutbox):
    from datetime import timedelta

    from django.utils import timezone

    from handover import services as handover_services
    from handover.models import Handover

    flows.deal_win(deal=deal, by=rep)
    handover = Handover.objects.get(deal=deal)
    handover_services.handover_update(
        handover=handover, by=rep, customer_expectations="Soon.", meeting_at=timezone.now() - timedelta(hours=1),
        meeting_held=True,
    )
    handover_services.handover_submit(handover=handover, by=rep)
    handover_services.handover_approve(handover=handover, by=salesmgr)
    Handover.objects.filter(pk=handover.pk).update(accept_deadline=timezone.now() - timedelta(minutes=5))
    mailoutbox.clear()  # the review and acceptance requests of the steps before

    from outbox import notices
    from outbox.models import Notice

    # Two dispatcher ticks at once: the producer owes one notice (unique key), the claims are
    # disjoint, and the builder's claim on the handover lets one email through.
    results = run_together(lambda: notices.dispatch(), lambda: notices.dispatch())
    assert all(isinstance(result, int) for result in results), results  # neither tick failed
    notice = Notice.objects.get(kind="handover.escalation")
    assert notice.state == "sent", notice.state
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [deliverymgr.email]
    assert Activity.objects.filter(deal=deal, event_type="handover.escalated").count() == 1


# --- Customer sign-off and the outbox ----------------------------------------------------------


def _awaiting_signoff(deal: Any, rep: Any, salesmgr: Any, deliverymgr: Any, delivery: Any) -> Any:
    """Stage 1 of the accepted deal's delivery, waiting for Alice's sign-off; returns its link."""
    from delivery import services as delivery_services
    from tests.scenarios import accept_deal

    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    stage = project.stages.get(position=1)
    delivery_services.stage_start(stage=stage, by=delivery)
    alice = project.account.contacts.get(first_name="Alice")
    return delivery_services.stage_request_signoff(stage=stage, by=delivery, contact=alice, delivered="Kickoff held.")


def _answer(link_pk: int, *, signed_off: bool = True, reason: str = "") -> Any:
    from customer_links.models import CustomerLink

    return flows.customer_answer(
        link=CustomerLink.objects.get(pk=link_pk), signed_off=signed_off, typed_name="Alice Martin", reason=reason,
        ip="203.0.113.9", user_agent="Browser",
    )


def test_two_concurrent_signoffs_with_one_link_let_exactly_one_through(
    deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    from delivery.models import SignOff, Stage

    link = _awaiting_signoff(deal, rep, salesmgr, deliverymgr, delivery)
    mailoutbox.clear()

    results = run_together(lambda: _answer(link.pk), lambda: _answer(link.pk))

    winners = [r for r in results if isinstance(r, SignOff)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(conflicts)) == (1, 1), results
    assert SignOff.objects.count() == 1
    stage = Stage.objects.get(pk=winners[0].stage_id)
    assert stage.state == Stage.State.SIGNED_OFF
    assert Activity.objects.filter(event_type="delivery.stage.signed_off").count() == 1
    # One email: the delivery owner hears of the sign-off once.
    assert [m.to for m in mailoutbox] == [[delivery.email]]


def test_a_signoff_racing_a_change_request_leaves_one_answer(deal, rep, salesmgr, deliverymgr, delivery, mailoutbox):
    from delivery.models import SignOff, Stage

    link = _awaiting_signoff(deal, rep, salesmgr, deliverymgr, delivery)
    mailoutbox.clear()

    results = run_together(
        lambda: _answer(link.pk), lambda: _answer(link.pk, signed_off=False, reason="Wrong dates.")
    )

    assert sum(isinstance(r, SignOff) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    answer = SignOff.objects.get()
    stage = Stage.objects.get(pk=answer.stage_id)
    expected = Stage.State.SIGNED_OFF if answer.decision == SignOff.Decision.SIGNED_OFF else Stage.State.CHANGES_REQUESTED
    assert stage.state == expected
    assert Activity.objects.filter(event_type__in=["delivery.stage.signed_off", "delivery.stage.changes_requested"]).count() == 1
    assert len(mailoutbox) == 1


_RACE_KIND = "test.concurrency_race"
_delivered: list[tuple[int, int]] = []  # (thread, notice) for each send of a race notice


def _race_builder(notice: Any) -> list[Any]:
    from django.core.mail import EmailMessage

    _delivered.append((threading.get_ident(), notice.pk))
    return [EmailMessage(subject=f"notice {notice.pk}", body="-", to=["ops@vendor.example"])]


def _due_notices(count: int, monkeypatch: Any) -> list[int]:
    """`count` race notices due a minute ago, with a builder that records which thread sent each;
    the producers are switched off: only the claiming races here, not what producers owe."""
    from datetime import timedelta

    from django.utils import timezone

    from outbox import notices
    from outbox.models import Notice

    monkeypatch.setitem(notices._builders, _RACE_KIND, _race_builder)
    monkeypatch.setattr(notices, "_producers", {})
    _delivered.clear()
    due = timezone.now() - timedelta(minutes=1)
    rows = Notice.objects.bulk_create(
        Notice(kind=_RACE_KIND, key=f"{_RACE_KIND}:{i}", target=f"test.race:{i}", due_at=due) for i in range(count)
    )
    return [row.pk for row in rows]


def test_two_dispatchers_claim_disjoint_notices_and_send_each_once(mailoutbox, monkeypatch):
    from outbox import notices
    from outbox.models import Notice

    ids = _due_notices(40, monkeypatch)

    results = run_together(lambda: notices.dispatch(batch=5), lambda: notices.dispatch(batch=5))

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == len(ids), results  # every notice claimed, none by both
    by_thread: dict[int, set[int]] = {}
    for thread, pk in _delivered:
        by_thread.setdefault(thread, set()).add(pk)
    assert sorted(pk for _thread, pk in _delivered) == sorted(ids)  # each sent once
    claimed_sets = list(by_thread.values())
    assert sum(len(s) for s in claimed_sets) == len(set().union(*claimed_sets))  # disjoint
    assert sorted(m.subject for m in mailoutbox) == sorted(f"notice {pk}" for pk in ids)
    assert set(Notice.objects.filter(pk__in=ids).values_list("state", "attempts")) == {("sent", 1)}
    assert notices.dispatch() == 0


def test_an_abandoned_claim_is_reclaimed_once(mailoutbox, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from outbox import notices
    from outbox.models import Notice

    abandoned, recent = _due_notices(2, monkeypatch)
    now = timezone.now()
    # A worker claimed the first long ago and died; the second is being sent right now.
    Notice.objects.filter(pk=abandoned).update(
        state=Notice.State.CLAIMED, claimed_at=now - notices.CLAIM_TIMEOUT - timedelta(minutes=1)
    )
    Notice.objects.filter(pk=recent).update(state=Notice.State.CLAIMED, claimed_at=now - timedelta(minutes=1))

    results = run_together(lambda: notices.dispatch(), lambda: notices.dispatch())

    assert sorted(results) == [0, 1], results
    assert [pk for _thread, pk in _delivered] == [abandoned]
    assert [m.subject for m in mailoutbox] == [f"notice {abandoned}"]
    assert Notice.objects.get(pk=abandoned).state == Notice.State.SENT
    assert Notice.objects.get(pk=recent).state == Notice.State.CLAIMED  # not stale yet: left alone
    assert notices.dispatch() == 0 and len(mailoutbox) == 1


def _hold_lock(notice_id: int, locked: threading.Event, release: threading.Event) -> None:
    """Holds the notice's row lock, as a dispatcher's scan or another sender does, until told."""
    from django.db import transaction

    from outbox.models import Notice

    try:
        with transaction.atomic():
            Notice.objects.select_for_update().get(pk=notice_id)
            locked.set()
            release.wait(timeout=10)
    finally:
        connections.close_all()


def _claimed_notice(monkeypatch: Any) -> int:
    from django.utils import timezone

    from outbox.models import Notice

    (pk,) = _due_notices(1, monkeypatch)
    Notice.objects.filter(pk=pk).update(state=Notice.State.CLAIMED, claimed_at=timezone.now())
    return pk


def test_a_sender_waits_out_a_lock_held_for_a_moment_and_sends(mailoutbox, monkeypatch):
    """The flaky failure this pins down: a second dispatcher's scan locks, for milliseconds, a
    row the first has just claimed (PostgreSQL locks before re-checking the filter). The sender
    of that row used to give up at once and leave it to the ten-minute stale-claim sweep."""
    from outbox import notices
    from outbox.models import Notice

    pk = _claimed_notice(monkeypatch)
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(pk, locked, release))
    holder.start()
    assert locked.wait(timeout=10)
    threading.Timer(0.1, release.set).start()  # the scan's transaction ends a moment later

    assert notices.deliver(pk) == "sent"

    holder.join(timeout=10)
    assert [p for _thread, p in _delivered] == [pk]
    assert [m.subject for m in mailoutbox] == [f"notice {pk}"]
    assert Notice.objects.get(pk=pk).state == Notice.State.SENT


def test_a_sender_leaves_a_row_another_sender_keeps_locked(mailoutbox, monkeypatch):
    from outbox import notices
    from outbox.models import Notice

    pk = _claimed_notice(monkeypatch)
    monkeypatch.setattr(notices, "LOCK_WAITS", (0.01, 0.02))
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(pk, locked, release))
    holder.start()
    assert locked.wait(timeout=10)
    try:
        assert notices.deliver(pk) == "locked"  # the other sender is mid-send: not sent twice
    finally:
        release.set()
        holder.join(timeout=10)

    assert _delivered == [] and mailoutbox == []
    notice = Notice.objects.get(pk=pk)
    assert (notice.state, notice.attempts) == (Notice.State.CLAIMED, 0)  # the claim stands, for the sweep
