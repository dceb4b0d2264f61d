"""The deal pipeline walked at random (reliability 16): every illegal action is refused with a
conflict and leaves the state unchanged; closed deals stay closed with their invariants."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from crm import services
from crm.exceptions import Conflict
from crm.models import Activity, Deal
from tests.conftest import make_user

STAGES = [s for s, _ in Deal.Stage.choices]


@pytest.mark.django_db
def test_random_action_sequences_keep_the_pipeline_invariants():
    rep = make_user("sm_rep", "Sales rep")
    account = services.account_create(by=rep, name="Stateful Ltd")

    class DealMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.deal = services.deal_create(account=account, by=rep, name="Walk", value="10")
            self.expected = "lead"
            self.events = Activity.objects.filter(deal=self.deal).count()

        @rule(to=st.sampled_from(STAGES))
        def move(self, to: str) -> None:
            legal = self.expected in Deal.OPEN_STAGES and to in Deal.OPEN_STAGES and to != self.expected
            try:
                services.deal_move(deal=self.deal, by=rep, to=to)
            except Conflict:
                assert not legal
            else:
                assert legal
                self.expected = to
                self.events += 1

        @rule()
        def win(self) -> None:
            self._close(lambda: services.deal_win(deal=self.deal, by=rep), "won")

        @rule()
        def lose(self) -> None:
            self._close(lambda: services.deal_lose(deal=self.deal, by=rep, reason="No budget"), "lost")

        def _close(self, action, target: str) -> None:  # type: ignore[no-untyped-def]
            legal = self.expected in Deal.OPEN_STAGES
            try:
                action()
            except Conflict:
                assert not legal
            else:
                assert legal
                self.expected = target
                self.events += 1

        @invariant()
        def state_matches_and_is_consistent(self) -> None:
            deal = Deal.objects.get(pk=self.deal.pk)
            assert deal.stage == self.expected
            assert (deal.closed_at is not None) == (deal.stage in ("won", "lost"))
            assert (deal.sold_by_id is not None) == (deal.stage == "won")
            assert Activity.objects.filter(deal=deal).count() == self.events

    DealMachine.TestCase.settings = settings(
        max_examples=25, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    DealMachine.TestCase().runTest()
    assert User.objects.filter(username="sm_rep").exists()
