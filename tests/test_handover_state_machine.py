"""Random walks over the handover's actions (reliability 16): whatever the order, refused
actions change nothing, accepted handovers have a delivery owner and no unresolved
not-feasible promise, and every transition writes exactly one event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from core.exceptions import Conflict
from crm import services as crm_services
from crm.models import Activity
from flows import actions as flows
from handover import services
from handover.models import Handover, Promise, PromiseReview
from tests.scenarios import make_user

SEEN: set[str] = set()
TRANSITION_EVENTS = [f"handover.{s}" for s in Handover.State.values if s != "draft"]


@pytest.mark.django_db
def test_random_handover_walks_keep_the_invariants():
    rep = make_user("hw_rep", "Sales rep")
    salesmgr = make_user("hw_salesmgr", "Sales manager")
    deliverymgr = make_user("hw_deliverymgr", "Delivery manager")
    delivery = make_user("hw_delivery", "Delivery team member")
    counter = iter(range(10_000))

    class HandoverMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            n = next(counter)
            account = crm_services.account_create(by=rep, name=f"Walk {n}")
            crm_services.contact_create(account=account, by=rep, first_name="Cleo", email="cleo@walk.example")
            deal = crm_services.deal_create(account=account, by=rep, name=f"Walk deal {n}", value="10")
            self.promises = [
                services.promise_record(deal=deal, by=rep, kind="timeline", description=f"Promise {i}", source="call")
                for i in range(2)
            ]
            flows.deal_win(deal=deal, by=rep)
            self.handover = Handover.objects.get(deal=deal)
            self.transitions = 0
            # Start complete, so walks reach the later states; `complete` still runs at random.
            self.complete()

        def _try(self, action, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            before = Handover.objects.get(pk=self.handover.pk).state
            events_before = Activity.objects.filter(deal=self.handover.deal).count()
            try:
                action(*args, **kwargs)
            except (Conflict, ValidationError):
                assert Handover.objects.get(pk=self.handover.pk).state == before
                assert Activity.objects.filter(deal=self.handover.deal).count() == events_before
            else:
                if Handover.objects.get(pk=self.handover.pk).state != before:
                    self.transitions += 1

        @rule()
        def complete(self) -> None:
            self._try(
                services.handover_update, handover=self.handover, by=rep, customer_expectations="Soon.", purchased="1 x Robot",
                meeting_at=timezone.now() - timedelta(hours=1), meeting_held=True,
            )

        @rule()
        def submit(self) -> None:
            self._try(services.handover_submit, handover=self.handover, by=rep)

        @rule()
        def approve(self) -> None:
            self._try(services.handover_approve, handover=self.handover, by=salesmgr)

        @rule()
        def return_it(self) -> None:
            self._try(services.handover_return, handover=self.handover, by=salesmgr, reason="Vague")

        @rule()
        def accept(self) -> None:
            self._try(services.handover_accept, handover=self.handover, by=deliverymgr, delivery_owner=delivery)

        @rule()
        def reject(self) -> None:
            self._try(services.handover_reject, handover=self.handover, by=deliverymgr, reason="No capacity")

        @rule(i=st.integers(0, 1), verdict=st.sampled_from(["ok", "at_risk", "not_acceptable"]))
        def sales_review(self, i: int, verdict: str) -> None:
            self._try(services.promise_review, promise=self.promises[i], by=salesmgr, verdict=verdict, comment="c")

        @rule(i=st.integers(0, 1), verdict=st.sampled_from(["feasible", "at_risk", "not_feasible"]))
        def feasibility_review(self, i: int, verdict: str) -> None:
            self._try(services.promise_review, promise=self.promises[i], by=deliverymgr, verdict=verdict, comment="c")

        @rule(forward=st.booleans())
        def advance(self, forward: bool) -> None:
            """The next step of the workflow, forward or back to the rep, so walks reach every
            state and not only the early ones."""
            state = Handover.objects.get(pk=self.handover.pk).state
            if state in Handover.EDITABLE_STATES:
                self.submit()
            elif state == Handover.State.SUBMITTED:
                self.review_all_favourably(by_sales=True)
                self.approve() if forward else self.return_it()
            elif state == Handover.State.SALES_APPROVED:
                self.review_all_favourably(by_sales=False)
                self.accept() if forward else self.reject()

        @rule(by_sales=st.booleans())
        def review_all_favourably(self, by_sales: bool) -> None:
            for promise in self.promises:
                if by_sales:
                    self._try(services.promise_review, promise=promise, by=salesmgr, verdict="ok")
                else:
                    self._try(services.promise_review, promise=promise, by=deliverymgr, verdict="feasible")

        @rule(i=st.integers(0, 1))
        def withdraw(self, i: int) -> None:
            self._try(services.promise_withdraw, promise=self.promises[i], by=salesmgr, reason="Dropped")

        @invariant()
        def invariants_hold(self) -> None:
            handover = Handover.objects.get(pk=self.handover.pk)
            SEEN.add(handover.state)
            events = Activity.objects.filter(deal=handover.deal, event_type__in=TRANSITION_EVENTS).count()
            assert events == self.transitions
            if handover.state == Handover.State.ACCEPTED:
                assert handover.delivery_owner_id is not None
                for promise in Promise.objects.filter(deal=handover.deal).with_reviews():
                    review = promise.latest_feasibility_review
                    if promise.state != Promise.State.WITHDRAWN:
                        assert review is not None
                        assert review.verdict != PromiseReview.Verdict.NOT_FEASIBLE or promise.is_resolved_by_customer
            if handover.state == Handover.State.SALES_APPROVED:
                assert handover.accept_deadline is not None

    HandoverMachine.TestCase.settings = settings(
        max_examples=40, stateful_step_count=25, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    HandoverMachine.TestCase().runTest()
    # The walks must have reached every state, or the invariants were checked on too little.
    assert SEEN == set(Handover.State.values), SEEN
