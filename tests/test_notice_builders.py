"""Email builders only build: every kind of notice the outbox sends is built by a function that,
given its notice (and what the kind's `prepare` step returned), reads rows and writes none. What
deciding to send writes (a check-up marked missed, a fresh customer link, a handover escalated)
is the `prepare` step's, and what a page shows about a send (a link's `emailed_at`) the
`outcome` hook's: both run in the sender's transaction, outside the builder.

Each scenario below walks the product through the emails of one part of it with every builder
wrapped in a guard that records any statement other than a SELECT it runs; the last test checks
that together they build every registered kind."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.mail import EmailMessage
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Contact
from customer_links import services as links
from customer_links.models import CustomerLink
from delivery import services as delivery_services
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from outbox import notices
from outbox.models import Notice
from tests.scenarios import accept_deal, approve_deal, submit_deal
from touchpoints import services as touchpoint_services
from touchpoints.models import Touchpoint

pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")

MONDAY_8AM = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)

HANDOVER_AND_CRM = {
    "handover.review_request", "handover.acceptance_request", "handover.escalation", "handover.back_notice",
    "crm.ownership_notice",
}
DELIVERY = {
    "handover.acceptance", "customer_links.email", "delivery.signoff_reminder", "delivery.signoff_reminder_owner",
    "delivery.customer_answered", "crm.link_renewal", "delivery.problem_critical",
}
ASKED_AND_MOOT = {"handover.review_request", "handover.acceptance_request"}
CHECK_UPS = {
    "touchpoints.reminder", "touchpoints.reminder_day_before", "touchpoints.missed", "touchpoints.digest",
    "touchpoints.survey", "touchpoints.survey_alert",
}


class Guard:
    """What each builder built (emails per kind) and every write it made (kind -> statements)."""

    def __init__(self) -> None:
        self.built: Counter[str] = Counter()
        self.writes: dict[str, list[str]] = defaultdict(list)

    def wrap(self, kind: str, builder: Callable[..., list[EmailMessage]]) -> Callable[..., list[EmailMessage]]:
        def guarded(notice: Notice, **prepared: Any) -> list[EmailMessage]:
            # Recorded, not asserted here: the sender records a builder's exception as the
            # notice's failure, which the test would not see.
            with CaptureQueriesContext(connection) as queries:
                messages = builder(notice, **prepared)
            self.writes[kind].extend(
                q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")
            )
            self.built[kind] += len(messages)
            return messages

        return guarded

    def kinds_built(self) -> set[str]:
        return {kind for kind, count in self.built.items() if count}


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[Guard]:
    """Every registered builder, guarded for one test (the registry is restored after it)."""
    guard = Guard()
    for kind, builder in list(notices._builders.items()):
        monkeypatch.setitem(notices._builders, kind, guard.wrap(kind, builder))
    yield guard


def _dispatch(at: datetime) -> None:
    with time_machine.travel(at, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        notices.dispatch()


def test_the_guard_records_a_builder_that_writes(guard, monkeypatch, db):
    def writes(notice: Notice) -> list[EmailMessage]:
        Notice.objects.filter(pk=notice.pk).update(data={"touched": True})
        return [EmailMessage(subject="Written", body="-", to=["ops@vendor.example"])]

    monkeypatch.setitem(notices._builders, "test.writes", guard.wrap("test.writes", writes))
    Notice.objects.create(kind="test.writes", key="writes", target="test:1", due_at=MONDAY_8AM)
    _dispatch(MONDAY_8AM)
    assert guard.built["test.writes"] == 1
    assert [sql.split()[0].upper() for sql in guard.writes["test.writes"]] == ["UPDATE"]


def test_the_handover_and_crm_builders_write_nothing(
    guard, deal, other_account, rep, rep2, salesmgr, deliverymgr, mailoutbox
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        submit_deal(deal, rep=rep)  # the review request
    with TestCase.captureOnCommitCallbacks(execute=True):
        handover = approve_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)  # the acceptance request
    Handover.objects.filter(pk=handover.pk).update(accept_deadline=timezone.now() - timedelta(minutes=1))
    _dispatch(timezone.now())
    assert Handover.objects.get(pk=handover.pk).escalated_at is not None  # written by its prepare step
    with TestCase.captureOnCommitCallbacks(execute=True):
        handover_services.handover_reject(handover=handover, by=deliverymgr, reason="Scope is not agreed.")
        flows.account_reassign(account=other_account, to_user=rep, by=salesmgr)
    assert guard.kinds_built() == HANDOVER_AND_CRM
    assert dict(guard.writes) == {kind: [] for kind in HANDOVER_AND_CRM}


def test_the_delivery_and_customer_link_builders_write_nothing(
    guard, deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    stage = project.stages.get(position=1)
    delivery_services.stage_start(stage=stage, by=delivery)
    alice = Contact.objects.get(account=project.account, email="alice@acme.example")
    with TestCase.captureOnCommitCallbacks(execute=True):
        delivery_services.stage_request_signoff(stage=stage, by=delivery, contact=alice, delivered="Kick-off held.")
    Notice.objects.exclude(kind__startswith="delivery.").filter(state=Notice.State.PENDING).update(
        state=Notice.State.CANCELLED
    )
    _dispatch(timezone.now() + timedelta(days=5, minutes=1))
    fresh = CustomerLink.objects.get(purpose="signoff", revoked_at__isnull=True)
    assert fresh.emailed_at is not None  # the reminder's fresh link, marked by its prepare step
    with TestCase.captureOnCommitCallbacks(execute=True):
        flows.customer_answer(link=fresh, signed_off=True, typed_name="Alice Martin", ip=None, user_agent="")
        portal = delivery_services.portal_link_issue(account=project.account, by=delivery, contact=alice)
    links.link_request_renewal(portal)
    with TestCase.captureOnCommitCallbacks(execute=True):
        notices.notice_schedule(kind="crm.link_renewal", key=f"link-renewal:{portal.pk}", target=portal.target,
                                data={"link": portal.pk}, send_now=True)
        delivery_services.problem_raise(account=project.account, by=delivery, title="Arm won't start",
                                        category="product_defect", severity="critical")
    assert guard.kinds_built() == DELIVERY
    # accept_deal's review and acceptance requests were built when it committed, the handover
    # accepted by then: moot, no email (and no write either).
    assert dict(guard.writes) == {kind: [] for kind in DELIVERY | ASKED_AND_MOOT}


def test_the_check_up_builders_write_nothing(guard, deal, rep, salesmgr, deliverymgr, delivery, mailoutbox):
    delivery.profile.manager = deliverymgr
    delivery.profile.save()
    with time_machine.travel(MONDAY_8AM, tick=False):
        accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    Notice.objects.filter(kind__startswith="handover.").update(state=Notice.State.CANCELLED)
    for at in (MONDAY_8AM + timedelta(hours=2), MONDAY_8AM + timedelta(days=1, hours=2),
               MONDAY_8AM + timedelta(days=3, hours=2)):
        _dispatch(at)
    checkup = Touchpoint.objects.get(kind="checkup_call")
    with time_machine.travel(checkup.due_at + timedelta(minutes=5), tick=False):
        _dispatch(timezone.now())
    _dispatch(Touchpoint.objects.get(kind="review_meeting").due_at - timedelta(hours=20))
    assert Touchpoint.objects.filter(state=Touchpoint.State.MISSED).exists()  # marked by the prepare step
    link = CustomerLink.objects.filter(purpose="survey").latest("created_at")
    with TestCase.captureOnCommitCallbacks(execute=True):
        touchpoint_services.survey_answer(link=link, satisfaction=1, as_expected=False, comment="Late.",
                                          ip=None, user_agent="")
    assert guard.kinds_built() == CHECK_UPS
    assert dict(guard.writes) == {kind: [] for kind in CHECK_UPS}


def test_the_scenarios_build_every_registered_kind():
    assert set(notices._builders) == HANDOVER_AND_CRM | DELIVERY | CHECK_UPS
