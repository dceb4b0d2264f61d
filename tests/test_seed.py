"""Demo data (seed_demo) and benchmark data (seed_scale)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F, Q
from django.test import override_settings

from crm import roles
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    Contact,
    Deal,
    DealLineItem,
    OwnershipChange,
)

DEMO_ROLES = {
    "rep": roles.SALES_REP,
    "rep2": roles.SALES_REP,
    "presales": roles.PRESALES,
    "salesmgr": roles.SALES_MANAGER,
    "delivery": roles.DELIVERY_TEAM,
    "deliverymgr": roles.DELIVERY_MANAGER,
    "admin": roles.ADMINISTRATOR,
}


def seed_demo() -> str:
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def seed_scale(accounts: int, **options: Any) -> str:
    out = io.StringIO()
    call_command("seed_scale", accounts=accounts, verbosity=0, stdout=out, **options)
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (User, Account, Contact, Deal, DealLineItem, Activity, OwnershipChange, AccountTeamMember)
    }


# --- seed_demo ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_creates_one_user_per_role_who_can_log_in() -> None:
    output = seed_demo()

    for username, role in DEMO_ROLES.items():
        user = User.objects.get(username=username)
        assert user.is_active
        assert user.check_password("keepwarm")
        assert role in roles.role_names(user)
        assert user.get_full_name() and user.email and user.profile.phone
        assert username in output  # the demo logins are printed
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    salesmgr, deliverymgr = User.objects.get(username="salesmgr"), User.objects.get(username="deliverymgr")
    for username in ("rep", "rep2", "presales"):
        assert User.objects.get(username=username).profile.manager == salesmgr
    assert User.objects.get(username="delivery").profile.manager == deliverymgr


@pytest.mark.django_db
def test_seed_demo_creates_about_fifty_realistic_accounts() -> None:
    seed_demo()

    assert 45 <= Account.objects.count() <= 60
    assert Account.objects.values("industry").distinct().count() >= 10
    assert Account.objects.values("city").distinct().count() >= 20
    # Deals in every stage, selling products and services.
    assert set(Deal.objects.values_list("stage", flat=True)) == set(Deal.Stage.values)
    assert set(DealLineItem.objects.values_list("kind", flat=True)) == {"product", "service"}
    assert not Deal.objects.filter(line_items__isnull=True).exists()
    # Contacts with the awkward cases the product handles.
    assert Contact.objects.filter(do_not_contact=True).exists()
    assert Contact.objects.filter(is_active=False, left_at__isnull=False).exists()
    assert set(Contact.objects.values_list("preferred_channel", flat=True)) == set(Contact.Channel.values)
    assert 0 < Account.objects.single_threaded().count() < Account.objects.count()
    # Teams include pre-sales; ownership changed hands with notes, and one rep left.
    assert AccountTeamMember.objects.filter(role="presales", user__username="presales").exists()
    assert OwnershipChange.objects.filter(reason__in=["reassignment", "territory"]).exclude(note="").exists()
    departure = OwnershipChange.objects.filter(reason="departure").select_related("from_user").first()
    assert departure is not None and departure.from_user is not None
    assert not departure.from_user.is_active
    # Activities of every kind, spread over past months.
    assert set(Activity.objects.values_list("kind", flat=True)) == set(Activity.Kind.values)
    dates = Activity.objects.values_list("occurred_at__date", flat=True).distinct()
    assert len({(d.year, d.month) for d in dates}) >= 4
    # Won deals carry promises and handovers in every state of the workflow.
    from handover.models import Handover, Promise

    assert set(Handover.objects.values_list("state", flat=True)) == set(Handover.State.values)
    assert Handover.objects.count() == Deal.objects.filter(stage="won").count()
    assert Promise.objects.values("made_by").distinct().count() >= 2
    assert Handover.objects.filter(state="accepted", delivery_owner__username="delivery").exists()


@pytest.mark.django_db
def test_seed_demo_moves_the_deliveries_along() -> None:
    output = seed_demo()

    from delivery.models import Problem, Project, SignOff, Stage

    assert "Deliveries:" in output and "Problems:" in output
    # Projects with stages the customer signed off through the link, typed name and all.
    assert Project.objects.filter(stages__state="signed_off").distinct().count() >= 2
    signed = SignOff.objects.filter(decision="signed_off")
    assert signed.exists() and not signed.filter(ip_address__isnull=True).exists()
    assert not Stage.objects.filter(state="signed_off").exclude(signoffs__decision="signed_off").exists()
    # One waiting for the customer, one sent back with changes, one delivery complete.
    assert Stage.objects.filter(state="awaiting_signoff", signer__isnull=False).exists()
    changes = Stage.objects.filter(state="changes_requested")
    assert changes.exists() and not changes.filter(changes_reason="").exists()
    assert Project.objects.filter(state="complete").exists()
    # Problems on promises, of several categories and severities, some resolved.
    problems = Problem.objects.filter(pk__in=Problem.objects.filter(promises__isnull=False).values("pk"))
    assert problems.values("category").distinct().count() >= 3
    assert problems.values("severity").distinct().count() >= 3
    assert problems.filter(state__in=["resolved", "closed"]).exists() and problems.filter(state="open").exists()


@pytest.mark.django_db
def test_seed_demo_puts_the_check_ups_at_different_points_of_their_agenda() -> None:
    output = seed_demo()

    from datetime import timedelta

    from django.utils import timezone

    from delivery.models import Problem
    from outbox.models import Notice
    from touchpoints.models import SurveyResponse, Touchpoint

    assert "Check-ups:" in output
    done = Touchpoint.objects.filter(state="done")
    assert done.count() >= 5 and not done.filter(satisfaction__isnull=True).exists()
    assert done.exclude(notes="").count() == done.count() and done.filter(satisfaction__lte=2).exists()
    assert Touchpoint.objects.filter(state="missed").count() == 1
    # Something to do this week (or overdue) for the demo delivery owner and the demo rep.
    week_end = timezone.now() + timedelta(days=7)
    for username in ("delivery", "rep"):
        assert Touchpoint.objects.filter(state="scheduled", owner__username=username, due_at__lt=week_end).exists()
    # One unhappy survey answer, which opened a check-up problem.
    answer = SurveyResponse.objects.get()
    assert answer.satisfaction <= 2 and answer.problem is not None and answer.problem.source == "checkup"
    assert Problem.objects.filter(source="checkup").count() >= 2  # and one raised from a call's outcome
    # Nothing stale left in the outbox to fire at start-up.
    assert not Notice.objects.filter(
        kind__startswith="touchpoints.", state__in=["pending", "claimed"], due_at__lte=timezone.now()
    ).exists()


@pytest.mark.django_db
def test_seed_demo_tells_a_teams_story_over_months() -> None:
    """Dated over the past months, in order: nothing overdue before it was approved, no
    problem resolved in minutes, dashboards with a history."""
    seed_demo()

    from datetime import timedelta

    from django.db.models import Max, Min
    from django.utils import timezone

    from delivery.models import Problem, Project, Stage
    from handover.models import Handover, Promise
    from insights import selectors as insights
    from touchpoints.models import Touchpoint

    now = timezone.now()
    created = Account.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    assert created["last"] - created["first"] >= timedelta(days=90)

    handovers = list(Handover.objects.select_related("deal").exclude(state="draft"))
    assert handovers
    for h in handovers:
        assert h.deal.closed_at <= h.created_at <= h.submitted_at <= now, h
        if h.approved_at is not None:
            assert h.submitted_at < h.approved_at < h.accept_deadline, h
        if h.accepted_at is not None:
            assert h.approved_at < h.accepted_at <= now, h
    assert max(h.created_at for h in handovers) - min(h.created_at for h in handovers) >= timedelta(days=30)
    # Overdue means past a deadline that came after the approval, by hours, not by the seed's rounding.
    overdue = [h for h in handovers if h.state == "sales_approved" and h.accept_deadline < now]
    assert overdue and all(h.approved_at < h.accept_deadline for h in overdue)
    for promise in Promise.objects.select_related("deal__handover").filter(deal__handover__isnull=False):
        assert promise.made_at <= promise.deal.handover.created_at
    # Deliveries start at their acceptance and move on over days.
    for project in Project.objects.select_related("handover"):
        assert abs(project.started_at - project.handover.accepted_at) < timedelta(minutes=1)
    ages = {(now - p.started_at).days for p in Project.objects.all()}
    assert max(ages) >= 14 and len(ages) >= 3
    for stage in Stage.objects.exclude(started_at=None).select_related("project"):
        assert stage.project.started_at <= stage.started_at <= now
        for later in (stage.signoff_requested_at, stage.signed_off_at, stage.done_at):
            assert later is None or stage.started_at <= later <= now
    resolved = Problem.objects.exclude(resolved_at=None)
    assert resolved.exists()
    for problem in resolved:
        assert problem.resolved_at - problem.raised_at > timedelta(hours=1), problem
    for problem in Problem.objects.exclude(project=None).select_related("project"):
        assert problem.project.started_at <= problem.raised_at <= now
    # Nothing was raised "just now", when the demo was loaded (the check-up problems included).
    assert not Problem.objects.filter(raised_at__gt=now - timedelta(minutes=10)).exists()
    # The agenda starts at the acceptance.
    for touchpoint in Touchpoint.objects.exclude(handover=None).select_related("handover"):
        assert touchpoint.due_at >= touchpoint.handover.accepted_at - timedelta(days=1)
    # The dashboards have a history: deals won and promises made in several past months.
    salesmgr = User.objects.get(username="salesmgr")
    trend = insights.trends(period=insights.Period.last_days(90), team=None, viewer=salesmgr)
    assert sum(1 for point in trend if point.deals_won) >= 3
    assert sum(1 for point in trend if point.promises_made) >= 2
    risk = insights.risk(period=insights.Period.last_days(90), team=None, viewer=salesmgr)
    assert len({row.days_since_acceptance for row in risk.rows}) >= 3


@pytest.mark.django_db
def test_seed_demo_keeps_the_ledger_and_team_consistent() -> None:
    seed_demo()

    for account in Account.objects.annotate(owners=Count("team", filter=Q(team__role="owner", team__ended_at=None))):
        assert account.owners == 1
        latest = account.ownership_changes.order_by("-changed_at", "-id").first()
        assert latest is not None and latest.to_user_id == account.owner_id
    assert not Deal.objects.filter(stage="won", sold_by__isnull=True).exists()
    assert not Account.objects.filter(owner__is_active=False).exists()


@pytest.mark.django_db
def test_seed_demo_twice_changes_nothing_and_says_so() -> None:
    seed_demo()
    before = snapshot()

    output = seed_demo()

    assert snapshot() == before
    assert "nothing changed" in output


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_seed_demo_is_refused_when_debug_is_off() -> None:
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=io.StringIO())

    assert not Account.objects.exists()
    assert not User.objects.filter(username="rep").exists()


# --- seed_scale --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_scale_creates_the_rows_per_account() -> None:
    seed_scale(20, crm_only=True)

    assert Account.objects.count() == 20
    assert Contact.objects.count() == 60
    assert Deal.objects.count() == 30
    assert Activity.objects.count() == 200


@pytest.mark.django_db
def test_seed_scale_spreads_accounts_over_sales_rep_owners() -> None:
    seed_scale(20, owners=5, crm_only=True)

    owners = User.objects.filter(username__startswith="bench_owner_")
    assert owners.count() == 5
    assert all(roles.SALES_REP in roles.role_names(owner) for owner in owners)
    assert set(Account.objects.values_list("owner__username", flat=True)) == set(owners.values_list("username", flat=True))


@pytest.mark.django_db
def test_seed_scale_rows_are_consistent() -> None:
    seed_scale(20, crm_only=True)

    for account in Account.objects.all():
        ledger = list(account.ownership_changes.all())
        assert len(ledger) == 1 and ledger[0].to_user_id == account.owner_id and ledger[0].reason == "new"
        team = list(account.team.current())
        assert [(m.role, m.user_id) for m in team] == [("owner", account.owner_id)]
        assert account.contacts.filter(is_primary=True).count() == 1
        assert account.activities.count() == 10
    assert set(Deal.objects.values_list("stage", flat=True)) == set(Deal.Stage.values)
    for deal in Deal.objects.all():
        assert (deal.closed_at is not None) == (deal.stage in ("won", "lost"))
        assert (deal.sold_by_id == deal.owner_id) if deal.stage == "won" else deal.sold_by_id is None
    # An activity's deal belongs to the activity's account.
    assert not Activity.objects.filter(deal__isnull=False).exclude(deal__account_id=F("account_id")).exists()


@pytest.mark.django_db
def test_seed_scale_reuses_data_already_present() -> None:
    seed_scale(20, batch=7)
    before = snapshot()

    output = seed_scale(20)

    assert snapshot() == before
    assert "nothing to do" in output
    seed_scale(30)
    assert Account.objects.count() == 30
    assert Account.objects.values("name").distinct().count() == 30


@pytest.mark.django_db
def test_seed_scale_new_rows_can_be_created_after_it() -> None:
    """Explicit ids must leave the id sequences past the seeded rows."""
    seed_scale(5)
    owner = User.objects.get(username="bench_owner_01")

    account = Account.objects.create(name="Created later", owner=owner)

    assert account.pk > max(Account.objects.exclude(pk=account.pk).values_list("pk", flat=True))
