"""Delivery projects, stages, customer sign-off and problems, through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import Conflict
from crm import roles
from crm.models import Account, Activity
from customer_links import services as links
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import PlanTemplate, Problem, Project, SignOff, Stage
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover, Promise
from outbox import notices
from outbox.models import Notice
from tests.scenarios import accept_deal, approve_deal, make_user
from touchpoints.models import Touchpoint


def stage(project, position):
    return project.stages.get(position=position)


def request_signoff(project, position, by, contact_name="Alice", delivered="Kickoff held; plan agreed."):
    s = stage(project, position)
    if s.state == "planned":
        services.stage_start(stage=s, by=by)
    contact = project.account.contacts.get(first_name=contact_name)
    return services.stage_request_signoff(stage=s, by=by, contact=contact, delivered=delivered)


def answer(link, signed_off=True, typed_name="Alice Martin", reason=""):
    return flows.customer_answer(
        link=CustomerLink.objects.get(pk=link.pk), signed_off=signed_off, typed_name=typed_name, reason=reason,
        ip="203.0.113.9", user_agent="Mail client",
    )


def test_accepting_starts_the_project_from_the_default_plan(project, delivery, deal):
    assert project.owner == delivery and project.template.name == "Software rollout"
    names = list(project.stages.values_list("name", "state", "needs_signoff", "signer_role"))
    assert names[0] == ("Kickoff", "planned", True, "decision_maker")
    assert [n for n, *_ in names] == ["Kickoff", "Installation", "Data migration", "Training", "Go-live"]
    dues = list(project.stages.values_list("due_date", flat=True))
    assert dues == sorted(dues) and dues[0] == timezone.localdate(project.handover.accepted_at) + timedelta(days=3)
    assert Activity.objects.filter(event_type="delivery.project_started", account=deal.account).count() == 1


def test_the_delivery_manager_picks_another_plan(deal, rep, salesmgr, deliverymgr, delivery):
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery, plan="Equipment")
    assert project.template.name == "Equipment"
    first = stage(project, 1)
    assert (first.name, first.needs_signoff) == ("Order confirmed", False)


def test_an_unknown_plan_fails_the_acceptance_and_leaves_nothing_half_made(deal, rep, salesmgr, deliverymgr, delivery):
    handover = approve_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)
    with pytest.raises(ValidationError) as exc:
        flows.handover_accept(
            handover=handover, by=deliverymgr, delivery_owner=delivery, options={"plan_template": 999999}
        )
    assert "plan_template" in exc.value.message_dict
    handover = Handover.objects.get(deal=deal)
    assert handover.state == "sales_approved" and handover.delivery_owner is None
    assert not Project.objects.exists() and not Stage.objects.exists()
    assert Account.objects.get(pk=deal.account_id).owner == rep


def test_stages_move_only_by_the_owner_and_delivery_managers(project, delivery, deliverymgr, rep, salesmgr, admin_user):
    first = stage(project, 1)
    for who in (rep, salesmgr):
        with pytest.raises(PermissionDenied):
            services.stage_start(stage=first, by=who)
    assert services.stage_start(stage=first, by=delivery).state == "in_progress"
    with pytest.raises(Conflict):
        services.stage_start(stage=first, by=deliverymgr)
    second = stage(project, 2)
    services.stage_start(stage=second, by=admin_user)
    assert Stage.objects.get(pk=second.pk).state == "in_progress"


def test_a_stage_the_customer_signs_cannot_be_completed_by_staff(project, delivery):
    first = stage(project, 1)
    services.stage_start(stage=first, by=delivery)
    with pytest.raises(Conflict):
        flows.stage_complete(stage=first, by=delivery)
    assert Stage.objects.get(pk=first.pk).state == "in_progress"


def test_requesting_signoff_emails_a_hashed_single_use_link_once(
    project, delivery, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        link = request_signoff(project, 1, delivery)
    s = Stage.objects.get(pk=stage(project, 1).pk)
    assert s.state == "awaiting_signoff" and s.signer.first_name == "Alice"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["alice@acme.example"]
    url = next(word for word in mailoutbox[0].body.split() if "/c/signoff/open/" in word)
    raw = url.rstrip("/").rsplit("/", 1)[1]
    # The token is minted when the email is sent (no token in the task's arguments).
    stored = CustomerLink.objects.get(pk=link.pk)
    assert len(raw) >= 43 and stored.token_hash == links.token_hash(raw) and raw not in stored.token_hash
    assert stored.emailed_at is not None
    # Redelivering the task sends nothing more and leaves the emailed token working.
    from customer_links.tasks import email_customer_link

    assert email_customer_link(link.pk) == 0 and len(mailoutbox) == 1
    assert CustomerLink.objects.get(pk=link.pk).token_hash == links.token_hash(raw)
    reminders = Notice.objects.filter(target=f"delivery.stage:{s.pk}", state="pending")
    assert sorted(reminders.values_list("kind", flat=True)) == [
        "delivery.signoff_reminder", "delivery.signoff_reminder_owner"
    ]
    due = reminders.first().due_at - s.signoff_requested_at
    assert timedelta(days=4, hours=23) < due < timedelta(days=5, minutes=1)


def test_the_signer_must_have_the_stage_role(project, delivery):
    first = stage(project, 1)  # signed off by a decision maker
    services.stage_start(stage=first, by=delivery)
    bruno = project.account.contacts.get(first_name="Bruno")  # technical
    with pytest.raises(ValidationError) as exc:
        services.stage_request_signoff(stage=first, by=delivery, contact=bruno, delivered="Done")
    assert "contact" in exc.value.message_dict
    assert Stage.objects.get(pk=first.pk).state == "in_progress" and not CustomerLink.objects.exists()


def test_what_was_delivered_is_required(project, delivery):
    first = stage(project, 1)
    services.stage_start(stage=first, by=delivery)
    alice = project.account.contacts.get(first_name="Alice")
    with pytest.raises(ValidationError) as exc:
        services.stage_request_signoff(stage=first, by=delivery, contact=alice, delivered="  ")
    assert "delivered" in exc.value.message_dict


def test_a_new_request_revokes_the_old_link(project, delivery):
    old = request_signoff(project, 1, delivery)
    new = request_signoff(project, 1, delivery, delivered="Kickoff held, minutes attached.")
    old.refresh_from_db()
    assert old.revoked_at is not None and new.revoked_at is None
    assert links.link_check(old, purpose="signoff").problem == links.REVOKED
    with pytest.raises(Conflict):
        answer(old)
    assert not SignOff.objects.exists()


def test_the_customer_signs_off_once_with_name_ip_and_agent(
    project, delivery, mailoutbox, django_capture_on_commit_callbacks
):
    link = request_signoff(project, 1, delivery)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        signoff = answer(link)
    s = Stage.objects.get(pk=signoff.stage_id)
    assert s.state == "signed_off" and s.signed_off_at is not None
    assert (signoff.typed_name, signoff.ip_address, signoff.user_agent) == ("Alice Martin", "203.0.113.9", "Mail client")
    event = Activity.objects.get(event_type="delivery.stage.signed_off")
    assert event.actor is None and "customer via link" in event.actor_label and event.ip_address == "203.0.113.9"
    assert [m.to for m in mailoutbox] == [[delivery.email]]
    assert Notice.objects.filter(kind__startswith="delivery.signoff_reminder", state="cancelled").count() == 2
    with pytest.raises(Conflict):
        answer(link)
    assert SignOff.objects.count() == 1 and len(mailoutbox) == 1


def test_requesting_changes_needs_a_reason_and_reopens_the_stage(project, delivery):
    link = request_signoff(project, 1, delivery)
    with pytest.raises(ValidationError) as exc:
        answer(link, signed_off=False, reason=" ")
    assert "reason" in exc.value.message_dict and not SignOff.objects.exists()
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
    answer(link, signed_off=False, reason="The training dates are wrong.")
    s = stage(project, 1)
    assert s.state == "changes_requested" and s.changes_reason == "The training dates are wrong."
    services.stage_start(stage=s, by=delivery)
    assert Stage.objects.get(pk=s.pk).state == "in_progress"


def test_a_missing_name_signs_nothing(project, delivery):
    link = request_signoff(project, 1, delivery)
    with pytest.raises(ValidationError) as exc:
        answer(link, typed_name="")
    assert "typed_name" in exc.value.message_dict
    assert stage(project, 1).state == "awaiting_signoff" and CustomerLink.objects.get(pk=link.pk).used_at is None


def _only_delivery_notices():
    """The accepted handover also schedules its check-ups, which owe reminders and, on any weekday
    morning or later, their owners' daily digest; these tests watch delivery's notices only, so
    the check-ups go (not just the notices they owe already: the digest is produced later)."""
    Touchpoint.objects.all().delete()
    Notice.objects.exclude(kind__startswith="delivery.").update(state="cancelled")


def test_the_reminder_goes_once_to_the_signer_with_a_fresh_link_and_once_to_the_owner(
    project, delivery, mailoutbox, django_capture_on_commit_callbacks
):
    link = request_signoff(project, 1, delivery)
    _only_delivery_notices()
    mailoutbox.clear()
    later = timezone.now() + timedelta(days=5, minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.dispatch(now=later) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.dispatch(now=later + timedelta(days=1)) == 0
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@acme.example", delivery.email]
    reminder = next(m for m in mailoutbox if m.to == ["alice@acme.example"])
    assert "/c/signoff/open/" in reminder.body
    link.refresh_from_db()
    assert link.revoked_at is not None
    fresh = CustomerLink.objects.get(purpose="signoff", revoked_at__isnull=True)
    assert fresh.pk != link.pk and fresh.emailed_at is not None


def test_the_reminder_is_skipped_once_signed_off(project, delivery, mailoutbox, django_capture_on_commit_callbacks):
    link = request_signoff(project, 1, delivery)
    _only_delivery_notices()
    with django_capture_on_commit_callbacks(execute=True):
        answer(link)  # the owner's note goes at once
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notices.dispatch(now=timezone.now() + timedelta(days=6))
    assert mailoutbox == []
    assert set(Notice.objects.filter(kind__startswith="delivery.").values_list("kind", "state")) == {
        ("delivery.signoff_reminder", "cancelled"), ("delivery.signoff_reminder_owner", "cancelled"),
        ("delivery.customer_answered", "sent"),
    }


def test_signing_off_every_stage_completes_the_project_and_keeps_open_promises(project, delivery, deliverymgr):
    promise = Promise.objects.get(deal=project.deal)
    contacts = project.account.contacts.all()
    for s in project.stages.order_by("position"):
        services.stage_start(stage=s, by=delivery)
        if not s.needs_signoff:
            flows.stage_complete(stage=s, by=delivery)
            continue
        contact = contacts.first()
        contacts.filter(pk=contact.pk).update(role=s.signer_role)  # the stage's signer role
        link = services.stage_request_signoff(stage=s, by=delivery, contact=contact, delivered="Done.")
        assert project.state == "active"
        answer(link, typed_name=contact.full_name)
    project.refresh_from_db()
    assert project.state == "complete" and project.completed_at is not None
    assert Promise.objects.get(pk=promise.pk).state == "kept"
    assert Account.objects.get(pk=project.account_id).lifecycle == "active"
    assert Activity.objects.filter(event_type="delivery.project_completed").count() == 1
    with pytest.raises(Conflict):
        services.stage_update(stage=stage(project, 1), by=delivery, due_date=None)


def test_an_open_problem_keeps_its_promise_open_at_completion(deal, rep, salesmgr, deliverymgr, delivery):
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery, plan="Equipment")
    promise = Promise.objects.get(deal=deal)
    services.problem_raise(account=project.account, by=delivery, title="Site moved", category="customer_change",
                           severity="low", promises=[promise])
    contact = project.account.contacts.first()
    for s in project.stages.order_by("position"):
        services.stage_start(stage=s, by=delivery)
        if not s.needs_signoff:
            flows.stage_complete(stage=s, by=delivery)
            continue
        type(contact).objects.filter(pk=contact.pk).update(role=s.signer_role)
        answer(services.stage_request_signoff(stage=s, by=delivery, contact=contact, delivered="Done."))
    project.refresh_from_db()
    assert project.state == "complete" and Promise.objects.get(pk=promise.pk).state == "active"


def test_a_problem_on_a_promise_breaks_it_and_traces_to_its_maker_not_the_new_owner(
    deal, rep, presales, rep2, salesmgr, deliverymgr, delivery
):
    made = handover_services.promise_record(
        deal=deal, by=presales, kind="integration", description="SAP integration out of the box", source="demo",
    )
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    flows.account_reassign(account=project.account, by=salesmgr, to_user=rep2, reason="departure")
    problem = services.problem_raise(
        account=project.account, by=delivery, title="No SAP connector", category="oversold",
        severity="high", promises=[made],
    )
    assert Promise.objects.get(pk=made.pk).state == "broken"
    [trace] = services.problem_attribution(problem)
    assert (trace["made_by"], trace["sold_by"]) == (presales, rep)
    assert Account.objects.get(pk=deal.account_id).owner == rep2
    # A sales rep taking the account does not become the delivery owner.
    assert Project.objects.get(pk=project.pk).owner == delivery


def test_a_customer_side_change_does_not_break_the_promise(project, delivery):
    made = Promise.objects.get(deal=project.deal)
    services.problem_raise(
        account=project.account, by=delivery, title="They moved the site", category="customer_change",
        severity="medium", promises=[made],
    )
    assert Promise.objects.get(pk=made.pk).state == "active"


def test_a_promise_of_another_account_is_refused(project, delivery, other_deal, rep2):
    theirs = handover_services.promise_record(
        deal=other_deal, by=rep2, kind="other", description="Free coffee", source="call",
    )
    with pytest.raises(ValidationError) as exc:
        services.problem_raise(account=project.account, by=delivery, title="X", category="other", severity="low",
                               promises=[theirs])
    assert "promises" in exc.value.message_dict and not Problem.objects.exists()


def test_only_the_account_team_raises_problems(project, outsider, delivery):
    with pytest.raises(PermissionDenied):
        services.problem_raise(account=project.account, by=outsider, title="X", category="other", severity="low")
    assert not Problem.objects.exists()


def test_a_critical_problem_alerts_owner_managers_and_rep_once(
    project, delivery, deliverymgr, rep, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.problem_raise(account=project.account, by=delivery, title="Line down", category="product_defect",
                               severity="critical")
    [message] = mailoutbox
    assert set(message.to) >= {delivery.email, deliverymgr.email, rep.email}


def test_problem_lifecycle_with_reasons_and_time_to_resolve(project, delivery, rep):
    problem = services.problem_raise(account=project.account, by=rep, title="Slow", category="other", severity="low")
    with pytest.raises(PermissionDenied):
        services.problem_resolve(problem=problem, by=rep, resolution="Fixed")
    with pytest.raises(ValidationError):
        services.problem_resolve(problem=problem, by=delivery, resolution="")
    problem = services.problem_resolve(problem=problem, by=delivery, resolution="Tuned the database.")
    assert problem.state == "resolved" and problem.time_to_resolve is not None
    with pytest.raises(Conflict):
        services.problem_resolve(problem=problem, by=delivery, resolution="Again")
    problem = services.problem_close(problem=problem, by=delivery)
    with pytest.raises(ValidationError):
        services.problem_reopen(problem=problem, by=rep, reason="")
    problem = services.problem_reopen(problem=problem, by=rep, reason="Slow again.")
    assert problem.state == "open" and problem.resolved_at is None and problem.reopen_count == 1
    kinds = list(Activity.objects.filter(event_type__startswith="delivery.problem.").values_list("event_type", flat=True))
    assert sorted(kinds) == sorted(["delivery.problem.raised", "delivery.problem.resolved", "delivery.problem.closed",
                                    "delivery.problem.reopened"])


def test_database_constraints_back_the_stage_rules(project):
    s = stage(project, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stage.objects.filter(pk=s.pk).update(state="signed_off")
    with pytest.raises(IntegrityError), transaction.atomic():
        Stage.objects.filter(pk=s.pk).update(state="done")
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.filter(pk=project.pk).update(state="complete")


def test_history_cannot_be_deleted(project):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        project.handover.delete()
    with pytest.raises(ProtectedError):
        PlanTemplate.objects.get(pk=project.template_id).delete()


def test_reassigning_the_account_moves_the_active_delivery(project, salesmgr):
    other = make_user("delivery2", roles.DELIVERY_TEAM)
    flows.account_reassign(account=project.account, by=salesmgr, to_user=other, reason="departure")
    assert Project.objects.get(pk=project.pk).owner == other
