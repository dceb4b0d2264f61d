"""The deal pipeline walked at random (reliability 16): every illegal action is refused with a
conflict and leaves the state unchanged; closed deals stay closed with their invariants."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from core.exceptions import Conflict
from crm import services
from crm.models import Activity, Deal
from flows import actions as flows
from handover.models import Handover
from tests.scenarios import make_user

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
            self.events = Activity.objects.filter(deal=self.deal, event_type__startswith="deal.").count()

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
            self._close(lambda: flows.deal_win(deal=self.deal, by=rep), "won")

        @rule()
        def lose(self) -> None:
            self._close(lambda: services.deal_lose(deal=self.deal, by=rep, reason="No budget"), "lost")

        @rule(to=st.sampled_from(STAGES))
        def reopen(self, to: str) -> None:
            # A won deal's handover is a draft here (nobody submits it), so it can be reopened.
            legal = self.expected in ("won", "lost") and to in Deal.OPEN_STAGES
            try:
                flows.deal_reopen(deal=self.deal, by=rep, to=to)
            except (Conflict, ValidationError):
                assert not legal
            else:
                assert legal
                self.expected = to
                self.events += 1

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
            assert Activity.objects.filter(deal=deal, event_type__startswith="deal.").count() == self.events
            # A handover exactly while the deal is won (reopening discards the draft).
            assert Handover.objects.filter(deal=deal).exists() == (deal.stage == "won")

    DealMachine.TestCase.settings = settings(
        max_examples=25, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    DealMachine.TestCase().runTest()
    assert User.objects.filter(username="sm_rep").exists()


@pytest.mark.django_db
def test_pipeline_totals_kept_by_the_services_match_the_deals(rep, account, salesmgr):
    from collections import Counter

    from crm import selectors
    from crm.models import PipelineTotal

    a = services.deal_create(account=account, by=rep, name="A", value="100", currency="EUR")
    b = services.deal_create(account=account, by=rep, name="B", value="50", currency="USD")
    c = services.deal_create(account=account, by=rep, name="C", value="10", currency="EUR")
    services.deal_move(deal=a, by=rep, to="proposal")
    services.deal_update(deal=c, by=rep, value="25", currency="USD")
    flows.deal_win(deal=a, by=rep)
    services.deal_lose(deal=b, by=rep, reason="Went elsewhere")

    def live() -> Counter:
        out: Counter = Counter()
        for d in Deal.objects.all():
            out[(d.stage, d.currency, "n")] += 1
            out[(d.stage, d.currency, "v")] += d.value
        return out

    kept: Counter = Counter()
    for t in PipelineTotal.objects.all():
        kept[(t.stage, t.currency, "n")] += t.deal_count
        kept[(t.stage, t.currency, "v")] += t.value_total
    assert +kept == +live()
    columns = {c.stage: c for c in selectors.pipeline(user=salesmgr)}
    assert columns["won"].count == 1 and columns["won"].totals == [("EUR", 100)]
    assert columns["lead"].totals == [("USD", 25)]
    # A rep's own view is summed live and agrees.
    rep_columns = {c.stage: c for c in selectors.pipeline(user=rep)}
    assert [(c.count, c.totals) for c in rep_columns.values()] == [(c.count, c.totals) for c in columns.values()]
    assert services.pipeline_totals_rebuild() == PipelineTotal.objects.count()
    assert columns["lost"].totals == [("USD", 50)]
