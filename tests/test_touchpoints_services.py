"""Check-ups: the agenda scheduled on acceptance, outcomes, reminders through the outbox, surveys."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from core.exceptions import Conflict
from crm.models import Account
from customer_links.models import CustomerLink
from delivery.models import Problem
from flows import actions as flows
from outbox import notices
from outbox.models import Notice
from tests.scenarios import MONDAY_8AM, accept_deal
from touchpoints import services
from touchpoints.models import SurveyResponse, Touchpoint

# Its fixed dates come after its fixtures only if the fixtures are made before them (tests.conftest).
pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")


@pytest.fixture
def accepted(deal, rep, salesmgr, deliverymgr, delivery):
    with time_machine.travel(MONDAY_8AM, tick=False):
        return accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)


def test_acceptance_schedules_the_30_day_agenda(accepted, rep, delivery, account):
    touchpoints = list(Touchpoint.objects.filter(account=account).order_by("due_at"))
    assert [(t.kind, (t.due_at.date() - MONDAY_8AM.date()).days) for t in touchpoints] == [
        ("thank_you", 0), ("delivery_confirmation", 1), ("checkup_call", 7), ("training_check", 14),
        ("review_meeting", 30),
    ]
    assert [t.owner for t in touchpoints] == [rep, delivery, delivery, delivery, delivery]
    alice = account.contacts.get(first_name="Alice")
    assert {t.contact for t in touchpoints} == {alice} and touchpoints[0].channel == "email"
    # Due when the owner's working hours start (09:00 UTC by default): accepted at 08:00, the
    # day-0 note is due at 09:00 the same day.
    assert [t.due_at.hour for t in touchpoints] == [9] * 5 and touchpoints[0].due_at.date() == MONDAY_8AM.date()
    assert [t.sends_survey for t in touchpoints] == [False, False, True, False, True]
    assert Notice.objects.filter(kind="touchpoints.reminder").count() == 5
    assert Notice.objects.filter(kind="touchpoints.reminder_day_before").count() == 1  # the review meeting
    assert Notice.objects.filter(kind="touchpoints.survey").count() == 2


def test_accepted_during_working_hours_the_thank_you_is_due_at_the_next_whole_minute(
    deal, rep, salesmgr, deliverymgr, delivery, account, mailoutbox, django_capture_on_commit_callbacks,
):
    """Not at the acceptance's microsecond: calendars have whole seconds, and the reminder goes at
    the dispatcher's next tick, not among the acceptance's own emails (whatever the hour of the run)."""
    accepted_at = datetime(2027, 3, 1, 10, 30, 15, 123456, tzinfo=UTC)  # a Monday, inside 09:00-17:00
    with time_machine.travel(accepted_at, tick=False), django_capture_on_commit_callbacks(execute=True):
        accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    thank_you = Touchpoint.objects.get(account=account, kind="thank_you")
    assert thank_you.due_at == datetime(2027, 3, 1, 10, 31, tzinfo=UTC)
    assert not [m for m in mailoutbox if "Thank-you" in m.subject]


def test_a_do_not_contact_primary_gets_no_touchpoints(deal, rep, salesmgr, deliverymgr, delivery, account):
    alice = account.contacts.get(first_name="Alice")
    flows.contact_update(contact=alice, by=rep, do_not_contact=True, is_primary=False)
    accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    assert not Touchpoint.objects.filter(contact=alice).exists()
    assert set(Touchpoint.objects.values_list("contact__first_name", flat=True)) == {"Bruno"}


def test_walking_the_30_days_sends_the_right_emails_on_the_right_days_once(accepted, mailoutbox, delivery, rep):
    seen: list[tuple[int, str, str]] = []
    moment = MONDAY_8AM
    # Every touchpoint is done on its due day, so nothing is missed: reminders, the day-before
    # reminder, two surveys and the digests go out, each once.
    while moment < MONDAY_8AM + timedelta(days=32):
        with time_machine.travel(moment, tick=False):
            from django.test import TestCase

            with TestCase.captureOnCommitCallbacks(execute=True):
                notices.dispatch()
            for t in Touchpoint.objects.open().filter(due_at__lte=moment - timedelta(hours=2)):
                services.touchpoint_complete(touchpoint=t, by=t.owner, satisfaction=4, as_expected=True)
        for message in mailoutbox[len(seen):]:
            seen.append(((moment - MONDAY_8AM).days, message.to[0], message.subject))
        moment += timedelta(hours=1)
    reminders = [(day, to) for day, to, subject in seen if subject.startswith("Due now")]
    assert reminders == [(0, rep.email), (1, delivery.email), (7, delivery.email), (14, delivery.email),
                         (30, delivery.email)]
    assert [(day, to) for day, to, subject in seen if subject.startswith("Tomorrow")] == [(29, delivery.email)]
    surveys = [(day, to) for day, to, subject in seen if subject.startswith("How is it going")]
    assert surveys == [(7, "alice@acme.example"), (30, "alice@acme.example")]
    assert not [s for s in seen if s[2].startswith("Missed")]
    digests = Counter(to for _day, to, subject in seen if subject.startswith("Today:"))
    assert digests[delivery.email] >= 4 and all(count >= 1 for count in digests.values())
    subjects = [(to, subject, day) for day, to, subject in seen]
    assert len(subjects) == len(set(subjects))  # nothing twice


def test_an_overdue_touchpoint_is_missed_and_escalated_to_the_owners_manager_once(
    accepted, mailoutbox, delivery, deliverymgr, salesmgr, django_capture_on_commit_callbacks
):
    delivery.profile.manager = deliverymgr
    delivery.profile.save()
    confirmation = Touchpoint.objects.get(kind="delivery_confirmation")
    late = confirmation.due_at + timedelta(hours=49)
    with time_machine.travel(late, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            notices.dispatch()
        with django_capture_on_commit_callbacks(execute=True):
            notices.dispatch()
    confirmation.refresh_from_db()
    assert confirmation.state == "missed"
    missed = sorted((m.subject.split(":")[1].strip(), m.to[0]) for m in mailoutbox if m.subject.startswith("Missed"))
    # The delivery owner's own manager; the rep has none, so the sales managers hear of the note.
    assert missed == [("Delivery confirmation", deliverymgr.email), ("Thank-you note", "salesmgr@vendor.example")]


def test_completing_records_the_outcome_and_follow_ups(accepted, delivery, rep):
    t = Touchpoint.objects.get(kind="checkup_call")
    with pytest.raises(PermissionDenied):
        services.touchpoint_complete(touchpoint=t, by=rep, satisfaction=4, as_expected=True)
    with pytest.raises(ValidationError) as exc:
        services.touchpoint_complete(touchpoint=t, by=delivery, satisfaction=9, as_expected=None)
    assert set(exc.value.message_dict) == {"satisfaction", "as_expected"}
    follow = timezone.now() + timedelta(days=3)
    done = services.touchpoint_complete(
        touchpoint=t, by=delivery, satisfaction=2, as_expected=False, notes="Training was too short.",
        follow_up_at=follow, follow_up_title="Book a second training day", problem_title="Training too short",
        problem_severity="high",
    )
    assert done.state == "done" and done.satisfaction == 2 and done.as_expected is False
    follow_up = Touchpoint.objects.get(follow_up_of=done)
    assert follow_up.title == "Book a second training day" and follow_up.owner == delivery
    problem = Problem.objects.get(title="Training too short")
    assert problem.source == "checkup" and problem.severity == "high"
    assert Notice.objects.filter(target=f"touchpoints.touchpoint:{t.pk}", kind="touchpoints.reminder",
                                 state="cancelled").exists()
    with pytest.raises(Conflict):
        services.touchpoint_complete(touchpoint=t, by=delivery, satisfaction=4, as_expected=True)


def test_skip_and_cancel_need_a_reason_and_cancel_what_is_owed(accepted, delivery):
    t = Touchpoint.objects.get(kind="review_meeting")
    with pytest.raises(ValidationError):
        services.touchpoint_skip(touchpoint=t, by=delivery, reason="")
    services.touchpoint_cancel(touchpoint=t, by=delivery, reason="Customer asked to merge it with the QBR.")
    assert set(Notice.objects.filter(target=f"touchpoints.touchpoint:{t.pk}").values_list("state", flat=True)) == {
        "cancelled"
    }


def test_rescheduling_owes_new_reminders_and_moves_the_survey(accepted, delivery):
    t = Touchpoint.objects.get(kind="checkup_call")
    new_due = timezone.now() + timedelta(days=20)
    services.touchpoint_reschedule(touchpoint=t, by=delivery, due_at=new_due)
    pending = Notice.objects.filter(target=f"touchpoints.touchpoint:{t.pk}", state="pending")
    assert {n.kind: n.due_at for n in pending}["touchpoints.reminder"] == new_due
    assert {n.kind: n.due_at for n in pending}["touchpoints.survey"] == new_due
    assert pending.filter(kind="touchpoints.reminder").count() == 1
    with pytest.raises(ValidationError):
        services.touchpoint_reschedule(touchpoint=t, by=delivery, due_at=timezone.now() - timedelta(days=30))


def test_reassigning_the_account_moves_open_touchpoints(accepted, delivery, salesmgr, account):
    from crm import roles
    from tests.scenarios import make_user

    other = make_user("delivery2", roles.DELIVERY_TEAM)
    with time_machine.travel(MONDAY_8AM + timedelta(days=1), tick=False):
        flows.account_reassign(account=account, by=salesmgr, to_user=other, reason="departure")
    assert set(Touchpoint.objects.open().exclude(kind="thank_you").values_list("owner__username", flat=True)) == {
        "delivery2"
    }


def test_a_departure_moves_the_departing_users_open_check_ups_and_ends_their_team_seats(
    accepted, rep, rep2, salesmgr, account,
):
    from crm.models import AccountTeamMember, Activity

    # After acceptance delivery owns the account; the rep still has the thank-you note and a seat.
    note = Touchpoint.objects.get(account=account, kind="thank_you")
    account.refresh_from_db()
    assert note.owner == rep and account.owner != rep
    seats = list(AccountTeamMember.objects.current().filter(user=rep))
    assert seats
    with time_machine.travel(MONDAY_8AM + timedelta(days=1), tick=False):
        flows.book_reassign(from_user=rep, to_user=rep2, by=salesmgr, reason="departure")

    note.refresh_from_db()
    assert note.owner == rep2
    assert not Touchpoint.objects.open().filter(owner=rep).exists()
    moved = Activity.objects.get(event_type="touchpoints.owner_changed", data__touchpoint=note.pk)
    assert moved.actor == salesmgr and moved.data["to"] == rep2.pk
    # Effective-dated: the seats end on the day of the departure and stay in the history.
    assert not AccountTeamMember.objects.current().filter(user=rep).exists()
    for seat in seats:
        seat.refresh_from_db()
        assert seat.ended_at == MONDAY_8AM + timedelta(days=1)
        assert AccountTeamMember.objects.current().filter(account=seat.account, user=rep2, role=seat.role).exists()
    left = Activity.objects.filter(event_type="account.team_changed", data__change="left", data__user=rep.pk)
    assert left.count() == len(seats)
    # The successor can open what they now own.
    assert Account.objects.visible_to(rep2).filter(pk=account.pk).exists()


def test_a_plain_book_reassignment_leaves_other_check_ups_and_seats_alone(accepted, rep, rep2, salesmgr, account):
    from crm.models import AccountTeamMember

    with time_machine.travel(MONDAY_8AM + timedelta(days=1), tick=False):
        flows.book_reassign(from_user=rep, to_user=rep2, by=salesmgr, reason="reassignment")
    assert Touchpoint.objects.get(account=account, kind="thank_you").owner == rep
    assert AccountTeamMember.objects.current().filter(user=rep).exists()


def _survey_link(touchpoint):
    link, _raw = services.survey_link_issue(touchpoint)
    return link


def test_a_low_survey_score_opens_a_problem_and_alerts_at_once(
    accepted, delivery, deliverymgr, salesmgr, mailoutbox, django_capture_on_commit_callbacks
):
    t = Touchpoint.objects.get(kind="checkup_call")
    link = _survey_link(t)
    with django_capture_on_commit_callbacks(execute=True):
        response = services.survey_answer(link=link, satisfaction=2, as_expected=True, comment="Slow.", ip="198.51.100.4",
                                          user_agent="Firefox")
    assert response.problem is not None and response.problem.source == "checkup"
    assert response.problem.raised_by is None and "check-up survey" in response.problem.raised_by_label
    [alert] = [m for m in mailoutbox if m.subject.startswith("Unhappy customer")]
    assert set(alert.to) >= {delivery.email, deliverymgr.email, salesmgr.email}
    with pytest.raises(Conflict):
        services.survey_answer(link=CustomerLink.objects.get(pk=link.pk), satisfaction=5, as_expected=True, ip=None,
                               user_agent="")
    assert SurveyResponse.objects.count() == 1 and Problem.objects.count() == 1


def test_a_happy_survey_opens_nothing_and_bad_input_names_the_field(accepted):
    t = Touchpoint.objects.get(kind="checkup_call")
    link = _survey_link(t)
    with pytest.raises(ValidationError) as exc:
        services.survey_answer(link=link, satisfaction="7", as_expected=None, comment="", is_complaint=True, ip=None,
                               user_agent="")
    assert set(exc.value.message_dict) == {"satisfaction", "as_expected", "comment"}
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
    response = services.survey_answer(link=link, satisfaction="5", as_expected=True, ip=None, user_agent="")
    assert response.problem is None and not Problem.objects.exists()


def test_go_live_schedules_the_quarterly_follow_on(deal, rep, salesmgr, deliverymgr, delivery):
    from delivery import services as delivery_services

    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery, plan="Equipment")
    contact = project.account.contacts.first()
    for s in project.stages.order_by("position"):
        delivery_services.stage_start(stage=s, by=delivery)
        if not s.needs_signoff:
            flows.stage_complete(stage=s, by=delivery)
            continue
        type(contact).objects.filter(pk=contact.pk).update(role=s.signer_role)
        link = delivery_services.stage_request_signoff(stage=s, by=delivery, contact=contact, delivered="Done.")
        flows.customer_answer(link=link, signed_off=True, typed_name="Alice Martin", ip=None, user_agent="")
    after = Touchpoint.objects.filter(step__anchor="go_live").order_by("due_at")
    assert [t.kind for t in after] == ["checkup_call", "checkup_call", "checkup_call", "renewal"]
    assert after.last().owner == rep


def test_the_calendar_feed_parses_and_a_reset_revokes_the_old_url(accepted, delivery, client):
    from icalendar import Calendar

    raw = services.calendar_feed_reset(user=delivery)
    response = client.get(f"/calendar/{raw}.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert len(events) == 4 and all(e.get("uid") and e.get("dtstart") for e in events)
    assert "Acme Robotics" in str(events[0].get("summary"))
    services.calendar_feed_reset(user=delivery)
    assert client.get(f"/calendar/{raw}.ics").status_code == 404


def test_a_contact_who_asks_not_to_be_contacted_loses_their_open_touchpoints(accepted, rep, account):
    alice = account.contacts.get(first_name="Alice")
    with time_machine.travel(MONDAY_8AM + timedelta(hours=1), tick=False):
        flows.contact_update(contact=alice, by=rep, do_not_contact=True)
    assert not Touchpoint.objects.open().filter(contact=alice).exists()
    assert set(Touchpoint.objects.open().values_list("contact__first_name", flat=True)) == {"Bruno"}
