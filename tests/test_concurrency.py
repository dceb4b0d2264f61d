"""Two people act on the same object at the same moment (reliability.md 15): the row locks in
the services keep the ownership ledger a chain and let exactly one win of a deal through.

PostgreSQL only: SQLite has no row locks (it serialises whole writes), so these races cannot
happen there and the tests would prove nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from crm import services
from crm.exceptions import Conflict
from crm.models import Account, AccountTeamMember, Activity, Deal, OwnershipChange

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency tests need PostgreSQL row locks: set DATABASE_URL=postgres://... (CI does)",
    ),
]




def run_together(*actions: Callable[[], Any]) -> list[Any]:
    """Runs the actions in threads released at the same instant; returns each result or error."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def worker(index: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = action()
        except Exception as exc:  # the caller inspects what each thread got
            results[index] = exc
        finally:
            connections.close_all()  # this thread's connection, before the test database goes

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    return results


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
            lambda: services.account_reassign(account=account, to_user=rep2, by=salesmgr, note="East"),
            lambda: services.account_reassign(account=account, to_user=outsider, by=salesmgr, note="West"),
        )
        for result in results:
            # Both apply one after the other, or one finds its target already owns the account.
            assert isinstance(result, (OwnershipChange, ValidationError)), repr(result)
        assert any(isinstance(r, OwnershipChange) for r in results)
        assert_ledger_is_a_chain(account)


def test_concurrent_reassignments_to_the_same_person_write_one_ledger_row(account, rep2, salesmgr):
    results = run_together(
        lambda: services.account_reassign(account=account, to_user=rep2, by=salesmgr),
        lambda: services.account_reassign(account=account, to_user=rep2, by=salesmgr),
    )
    assert sorted(type(r).__name__ for r in results) == ["OwnershipChange", "ValidationError"]
    assert OwnershipChange.objects.filter(account=account, to_user=rep2).count() == 1
    assert_ledger_is_a_chain(account)


def test_two_concurrent_wins_of_one_deal_let_exactly_one_through(deal, rep, salesmgr):
    results = run_together(
        lambda: services.deal_win(deal=deal, by=rep),
        lambda: services.deal_win(deal=deal, by=salesmgr),
    )
    winners = [r for r in results if isinstance(r, Deal)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(conflicts)) == (1, 1), results
    deal.refresh_from_db()
    assert deal.stage == Deal.Stage.WON and deal.sold_by == rep
    assert Activity.objects.filter(deal=deal, event_type="deal.won").count() == 1


def test_a_win_racing_a_loss_leaves_one_outcome(deal, rep, salesmgr):
    results = run_together(
        lambda: services.deal_win(deal=deal, by=rep),
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
        lambda: services.account_reassign(account=deal.account, to_user=rep2, by=salesmgr),
        lambda: services.deal_win(deal=deal, by=salesmgr),
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

    from handover import services as handover_services
    from handover.models import Handover
    from tests.conftest import make_user

    second_manager = make_user("deliverymgr2", "Delivery manager")
    second_owner = make_user("delivery2", "Delivery team member")
    promise = handover_services.promise_record(deal=deal, by=rep, kind="timeline", description="Live by May", source="call")
    services.deal_win(deal=deal, by=rep)
    handover = Handover.objects.get(deal=deal)
    handover_services.handover_update(
        handover=handover, by=rep, customer_expectations="Live by May.", meeting_at=timezone.now() - timedelta(hours=1),
        meeting_held=True,
    )
    handover_services.handover_submit(handover=handover, by=rep)
    handover_services.promise_review(promise=promise, by=salesmgr, verdict="ok")
    handover_services.handover_approve(handover=handover, by=salesmgr)
    handover_services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")

    results = run_together(
        lambda: handover_services.handover_accept(handover=handover, by=deliverymgr, delivery_owner=delivery),
        lambda: handover_services.handover_accept(handover=handover, by=second_manager, delivery_owner=second_owner),
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
    from handover import tasks as handover_tasks
    from handover.models import Handover

    services.deal_win(deal=deal, by=rep)
    handover = Handover.objects.get(deal=deal)
    handover_services.handover_update(
        handover=handover, by=rep, customer_expectations="Soon.", meeting_at=timezone.now() - timedelta(hours=1),
        meeting_held=True,
    )
    handover_services.handover_submit(handover=handover, by=rep)
    handover_services.handover_approve(handover=handover, by=salesmgr)
    Handover.objects.filter(pk=handover.pk).update(accept_deadline=timezone.now() - timedelta(minutes=5))

    results = run_together(
        lambda: handover_tasks.escalate_handover(handover.pk),
        lambda: handover_tasks.escalate_handover(handover.pk),
    )
    assert sorted(results) == [0, 1], results
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [deliverymgr.email]
    assert Activity.objects.filter(deal=deal, event_type="handover.escalated").count() == 1
