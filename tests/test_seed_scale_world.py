"""seed_scale's other apps' data (handover, delivery, touchpoints, after crm's part):
consistent with the models' rules and the services' ways, non-empty and plausible for
the insights dashboards, idempotent, and added to a database seeded by the older crm-only run.

PostgreSQL (the seeder writes with COPY there): DATABASE_URL=postgres://.../keepwarm_seedworld.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F
from django.utils import timezone

from crm import roles
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, OwnershipChange
from customer_links.models import CustomerLink
from delivery.models import PlanTemplate, Problem, Project, SignOff, Stage
from handover.models import Handover, HandoverContact, Promise, PromiseReview
from insights import selectors
from tests.scenarios import make_user
from touchpoints.models import AgendaStep, SurveyResponse, Touchpoint

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="seed_scale's COPY path needs PostgreSQL"),
]

MODELS = [
    Account, Contact, Deal, Activity, AccountTeamMember, OwnershipChange, CustomerLink, Handover, HandoverContact,
    Promise, PromiseReview, Project, Stage, SignOff, Problem, Touchpoint, SurveyResponse,
]


def seed_scale(accounts: int, **options: Any) -> str:
    out = io.StringIO()
    call_command("seed_scale", accounts=accounts, verbosity=0, stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def bench_won_deals() -> Any:
    return Deal.objects.filter(stage=Deal.Stage.WON, sold_by__username__startswith="bench_owner_")


# --- Consistency --------------------------------------------------------------------------------


def test_every_won_deal_gets_a_handover_played_forward_in_time() -> None:
    seed_scale(120)
    now = timezone.now()

    assert Handover.objects.count() == bench_won_deals().count() == 30
    for h in Handover.objects.select_related("deal"):
        deal = h.deal
        assert deal.stage == Deal.Stage.WON and h.account_id == deal.account_id and h.rep_id == deal.owner_id
        assert h.created_at == deal.closed_at
        times = [deal.closed_at, h.submitted_at, h.approved_at, h.accepted_at]
        reached = [t for t in times if t is not None]
        assert reached == sorted(reached) and reached[-1] <= now
        if h.state == Handover.State.ACCEPTED:
            assert h.meeting_held and h.meeting_at is not None and h.meeting_at <= h.accepted_at
            assert h.delivery_owner is not None and roles.DELIVERY_TEAM in roles.role_names(h.delivery_owner)
        if h.state == Handover.State.DRAFT:
            assert h.submitted_at is None
        assert not h.contacts.exclude(contact__account_id=h.account_id).exists()
    # Promises were made while selling, by the rep or a pre-sales consultant on the account team.
    for p in Promise.objects.select_related("deal"):
        assert p.account_id == p.deal.account_id and p.deal.created_at <= p.made_at <= p.deal.closed_at
        assert AccountTeamMember.objects.filter(account_id=p.account_id, user_id=p.made_by_id).exists()
        assert (p.outcome_at is not None) == (p.state in ("kept", "broken"))
    for r in PromiseReview.objects.select_related("promise"):
        assert r.created_at >= r.promise.made_at
    # Each accepted handover made its delivery owner the account's owner, once, with the rep kept on the team.
    for h in Handover.objects.filter(state=Handover.State.ACCEPTED).select_related("account"):
        ledger = list(OwnershipChange.objects.filter(account_id=h.account_id).order_by("changed_at", "pk"))
        assert [c.reason for c in ledger][-1] == OwnershipChange.Reason.HANDOVER
        assert ledger[-1].to_user_id == h.delivery_owner_id == h.account.owner_id
        assert ledger[-1].changed_at == h.accepted_at
        assert h.account.lifecycle in (Account.Lifecycle.ONBOARDING, Account.Lifecycle.ACTIVE)
        team = set(AccountTeamMember.objects.current().filter(account_id=h.account_id).values_list("user_id", "role"))
        assert {(h.delivery_owner_id, "owner"), (h.delivery_owner_id, "delivery_owner"), (h.rep_id, "sales_rep")} <= team
    # At most one current owner per account, and team periods end after they start (the database says so too).
    assert not AccountTeamMember.objects.current().filter(role="owner").values("account").annotate(
        n=Count("pk")).filter(n__gt=1).exists()


def test_every_accepted_handover_has_one_project_with_its_plans_stages() -> None:
    seed_scale(120)
    now = timezone.now()

    accepted = Handover.objects.filter(state=Handover.State.ACCEPTED)
    assert Project.objects.count() == accepted.count() > 0
    for project in Project.objects.select_related("handover", "template"):
        handover = project.handover
        assert handover.state == Handover.State.ACCEPTED
        assert (project.account_id, project.deal_id, project.owner_id) == (
            handover.account_id, handover.deal_id, handover.delivery_owner_id
        )
        assert project.started_at == handover.accepted_at
        plan = list(project.template.stages.order_by("position").values_list(
            "position", "name", "needs_signoff", "signer_role"))
        stages = list(project.stages.order_by("position"))
        assert [(s.position, s.name, s.needs_signoff, s.signer_role) for s in stages] == plan
        finals = [s.is_final for s in stages]
        assert finals == sorted(finals, reverse=True)  # stages finish in order
        assert (project.state == Project.State.COMPLETE) == all(finals)
        if project.completed_at:
            assert project.completed_at <= now and project.account.lifecycle == Account.Lifecycle.ACTIVE
        for before, after in zip(stages, stages[1:], strict=False):
            if after.started_at:
                assert before.is_final and after.started_at >= (before.signed_off_at or before.done_at)
            assert after.due_date >= before.due_date
        for stage in stages:
            assert stage.account_id == project.account_id
            if stage.started_at:
                assert stage.started_at >= project.started_at
            for signoff in stage.signoffs.select_related("link"):
                assert signoff.link.target == f"delivery.stage:{stage.pk}"
                assert signoff.link.used_at == signoff.created_at and signoff.contact.account_id == stage.account_id
    assert set(Stage.objects.values_list("state", flat=True)) >= {"signed_off", "done"}
    assert PlanTemplate.objects.filter(projects__isnull=False).distinct().count() >= 1


def test_problems_are_traced_to_promises_of_their_account_or_to_none() -> None:
    seed_scale(120)

    problems = Problem.objects.all()
    assert problems.exists()
    assert problems.filter(promises__isnull=False).exists() and problems.filter(promises__isnull=True).exists()
    for problem in problems.prefetch_related("promises"):
        assert all(p.account_id == problem.account_id for p in problem.promises.all())
        if problem.project_id:
            assert problem.project.account_id == problem.account_id
            assert problem.raised_at >= problem.project.started_at
        if problem.resolved_at:
            assert problem.resolved_at > problem.raised_at
            assert problem.closed_at is None or problem.closed_at >= problem.resolved_at
        if problem.category != Problem.Category.CUSTOMER_CHANGE:
            for promise in problem.promises.all():
                assert promise.state == Promise.State.BROKEN  # a counted problem breaks what it names


def test_checkups_follow_the_agendas_of_accepted_handovers() -> None:
    seed_scale(120)

    accepted_steps = AgendaStep.objects.filter(template__is_active=True, anchor="accepted").count()
    go_live_steps = AgendaStep.objects.filter(template__is_active=True, anchor="go_live").count()
    for handover in Handover.objects.filter(state=Handover.State.ACCEPTED).select_related("project"):
        touchpoints = list(handover.touchpoints.select_related("step"))
        complete = handover.project.state == Project.State.COMPLETE
        assert len(touchpoints) == accepted_steps + (go_live_steps if complete else 0)
        for t in touchpoints:
            assert t.account_id == handover.account_id and t.project_id == handover.project.pk
            anchor = handover.accepted_at if t.step.anchor == "accepted" else handover.project.completed_at
            assert t.due_at >= anchor and t.created_at == anchor
            rep_step = t.kind in ("thank_you", "renewal") and handover.rep.is_active
            assert t.owner_id == (handover.rep_id if rep_step else handover.delivery_owner_id)
            if t.state != Touchpoint.State.SCHEDULED:
                assert t.closed_at is not None and t.closed_at >= t.created_at
    assert not Touchpoint.objects.exclude(handover__state=Handover.State.ACCEPTED).exists()
    assert set(Touchpoint.objects.values_list("state", flat=True)) >= {"done", "missed", "scheduled"}
    # Survey answers come from the contact asked, on a check-up that sent one, after its due time.
    responses = SurveyResponse.objects.select_related("touchpoint", "link")
    assert responses.exists()
    for r in responses:
        t = r.touchpoint
        assert t.sends_survey and t.state not in ("skipped", "cancelled") and r.created_at >= t.due_at
        assert r.contact_id == t.contact_id == r.link.contact_id and r.link.target == f"touchpoints.touchpoint:{t.pk}"
        assert r.link.used_at == r.created_at
        if r.is_alarming:
            assert r.problem is not None and r.problem.account_id == t.account_id
    # One live link at most per target, as the database requires.
    assert not CustomerLink.objects.filter(used_at__isnull=True, revoked_at__isnull=True).values(
        "purpose", "target").annotate(n=Count("pk")).filter(n__gt=1).exists()


def test_rows_can_be_created_after_it() -> None:
    """Explicit ids must leave every table's id sequence past the seeded rows."""
    seed_scale(40)

    with connection.cursor() as cursor:
        for model in MODELS:
            table = model._meta.db_table
            cursor.execute(f"SELECT last_value, (SELECT MAX(id) FROM {table}) FROM {table}_id_seq")  # noqa: S608
            last, highest = cursor.fetchone()
            assert highest is None or last >= highest, table


# --- The dashboards have something to chew on ----------------------------------------------------


def test_the_insights_dashboards_return_plausible_figures() -> None:
    seed_scale(800)
    manager = make_user("seedworld_manager", roles.SALES_MANAGER)
    everything = selectors.Period.last_days(730)

    performance = selectors.performance(period=everything, team=None, viewer=manager)
    total = performance.total
    assert total is not None
    assert total.deals_won == bench_won_deals().count()
    assert total.promises_made == Promise.objects.count()
    for figure in ("promises_kept", "promises_broken", "promises_reset", "promises_withdrawn", "promises_active",
                   "problems_traced", "handovers_returned", "handovers_rejected", "day30_answers",
                   "checkups_due", "checkups_on_time"):
        assert getattr(total, figure) > 0, figure
    assert 2 <= total.median_days_won_to_accepted <= 20
    assert 3 <= total.median_day30_satisfaction <= 5
    assert 50 <= total.checkups_on_time_rate < 100 and 50 <= total.kept_rate < 100
    presales = [r for r in performance.rows if r.role == roles.PRESALES]
    assert presales and sum(r.promises_made for r in presales) > 0
    assert any(r.won_deals_involved > r.deals_won for r in presales)  # promises on deals reps sold
    trend = selectors.trends(period=selectors.Period.last_days(90), team=None, viewer=manager)
    assert sum(p.deals_won for p in trend) > 0 and sum(p.promises_made for p in trend) > 0
    someone = max(performance.rows, key=lambda r: r.deals_won)
    assert all(r.deals_won for r in performance.rows if r.role == roles.SALES_REP)  # every rep sold
    page = selectors.person_page(period=everything, viewer=manager,
                                 person=type(manager).objects.get(pk=someone.person_id))
    assert page.deals or page.promises

    quarter = selectors.Period.last_days(90)
    reassignment = selectors.reassignment(period=quarter, team=None, viewer=manager)
    assert reassignment.orphan_count == 0
    assert {o.name.rsplit(" ", 1)[0] for o in reassignment.owners} >= {"Bench Owner", "Bench Delivery"}
    assert reassignment.changes_by_reason.get("handover", 0) > 0
    year = selectors.reassignment(period=selectors.Period.last_days(365), team=None, viewer=manager)
    assert set(year.changes_by_reason) - {"handover"}  # reassignments, territory changes, departures

    risk = selectors.risk(period=quarter, team=None, viewer=manager)
    early = Handover.objects.filter(state="accepted", accepted_at__gte=timezone.now() - timedelta(days=90))
    assert len(risk.rows) == early.values("account").distinct().count() > 0
    reasons = {reason.code for row in risk.rows for reason in row.reasons}
    assert {"overdue_checkups", "satisfaction"} <= reasons
    assert risk.rows[0].score >= risk.rows[-1].score

    board = selectors.delivery(period=everything, team=None, viewer=manager)
    assert board.active_projects == Project.objects.filter(state="active").count() > 0
    assert board.completed_in_period > 0 and board.projects_by_stage
    raised = {row.category: row for row in board.problems_by_category}
    assert sum(row.raised for row in raised.values()) == Problem.objects.count()
    assert all(row.median_hours_to_resolve for row in raised.values() if row.resolved)


def test_history_waits_and_ledgers_are_consistent() -> None:
    seed_scale(480)
    now = timezone.now()

    # Stages waiting for the customer have a signer with a live link, asked in the past.
    for stage in Stage.objects.filter(state=Stage.State.AWAITING_SIGNOFF):
        assert stage.signer is not None and stage.signoff_requested_at <= now
        assert CustomerLink.objects.filter(target=f"delivery.stage:{stage.pk}", used_at__isnull=True).count() == 1
    for h in Handover.objects.filter(state=Handover.State.SALES_APPROVED):
        assert h.approved_at <= now and h.accept_deadline > h.approved_at
        assert h.escalated_at is None or h.escalated_at > h.accept_deadline
    # Handovers returned or rejected once and accepted later: the events the scorecards count.
    assert Activity.objects.filter(event_type="handover.returned", deal__handover__state="accepted").exists()
    # Every ledger chains from the "new" row to the current owner; a departure comes from someone gone.
    for account in Account.objects.all():
        ledger = list(account.ownership_changes.order_by("changed_at", "pk"))
        assert ledger[0].reason == "new" and ledger[-1].to_user_id == account.owner_id
        assert all(a.to_user_id == b.from_user_id for a, b in zip(ledger, ledger[1:], strict=False))
        owners = account.team.filter(role="owner").order_by("started_at")
        assert [m.user_id for m in owners] == [c.to_user_id for c in ledger]
    for change in OwnershipChange.objects.filter(reason="departure"):
        assert not change.from_user.is_active
    assert OwnershipChange.objects.exclude(reason__in=["new", "handover"]).exists()
    assert Contact.objects.filter(role="champion", is_active=False, left_at__isnull=False).exists()
    # Every event is on the account of its deal.
    assert not Activity.objects.filter(deal__isnull=False).exclude(deal__account_id=F("account_id")).exists()


# --- Re-runs ----------------------------------------------------------------------------------


def test_a_second_run_adds_nothing() -> None:
    seed_scale(120)
    before = counts()

    output = seed_scale(120)

    assert counts() == before
    assert "nothing to do" in output


def test_a_database_seeded_by_the_crm_only_run_gets_the_other_apps_rows() -> None:
    seed_scale(120, crm_only=True)
    assert not Handover.objects.exists()
    assert OwnershipChange.objects.exclude(reason="new").count() == 0

    output = seed_scale(120)

    assert "nothing to do" in output  # the accounts were there already
    assert Account.objects.count() == 120
    assert Handover.objects.count() == bench_won_deals().count() > 0
    assert Project.objects.count() == Handover.objects.filter(state="accepted").count() > 0
    assert Touchpoint.objects.exists() and OwnershipChange.objects.filter(reason="handover").exists()
    before = counts()
    seed_scale(160)  # more accounts later: only the new ones get the rest
    assert Account.objects.count() == 160
    assert Handover.objects.count() == bench_won_deals().count() > before["Handover"]
    assert counts()["Project"] == Handover.objects.filter(state="accepted").count()


def test_one_contact_in_a_thousand_has_a_rare_surname_and_an_older_database_gets_them() -> None:
    from demo.scale.crm import LAST_NAMES, RARE_SURNAMES, rare_surname

    seed_scale(400)  # 1,200 contacts
    rare = list(Contact.objects.filter(last_name__in=RARE_SURNAMES).values_list("pk", "first_name", "last_name", "email"))
    assert 0 < len(rare) < 8
    for _, first, last, email in rare:
        assert email.startswith(f"{first}.{last}.".lower()) and email.endswith("@customer.example")
    # A database seeded before the rare surnames: the name and email it made then.
    pk, first, last, email = rare[0]
    number = email.split("@")[0].rsplit(".", 1)[1]
    then = next(
        (name, f"{first}.{name}.{number}@customer.example".lower()) for name in LAST_NAMES
        if rare_surname(name, f"{first}.{name}.{number}@customer.example".lower()) == (last, email)
    )
    Contact.objects.filter(pk=pk).update(last_name=then[0], email=then[1])

    output = seed_scale(400)

    assert "Rare surnames: 1 contact renamed" in output
    assert Contact.objects.filter(pk=pk).values_list("last_name", "email").get() == (last, email)
    assert "Rare surnames" not in seed_scale(400)
