"""What every email says: one header builder, every email kind with the names an old row may hold,
and times in the recipient's time zone, named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.mail import EmailMessage
from django.test import TestCase
from django.utils import timezone

from core.mail import email_message, header_text
from crm.models import Account, Contact, Deal
from customer_links import services as links
from customer_links.models import CustomerLink
from delivery import services as delivery_services
from delivery.models import Stage
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from outbox import notices
from outbox.models import Notice
from tests.scenarios import MONDAY_8AM, _dispatch, accept_deal, approve_deal, escaped_text_in
from touchpoints import services as touchpoint_services
from touchpoints.models import Touchpoint

pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")


ACCOUNT = "Smith & Jones's\r\nRobotics"


ACCOUNT_LINE = "Smith & Jones's Robotics"


DEAL = "Line 2 & 3\n'upgrade'"


DEAL_LINE = "Line 2 & 3 'upgrade'"


@pytest.fixture
def old_rows(account: Account, deal: Deal, delivery: Any, deliverymgr: Any) -> None:
    """Names as an old row may still hold them: written past the forms, as the data was."""
    Account.objects.filter(pk=account.pk).update(name=ACCOUNT)
    Deal.objects.filter(pk=deal.pk).update(name=DEAL)
    Contact.objects.filter(account=account, first_name="Alice").update(first_name="Alice\r\n", last_name="O'Neil & Co")
    type(delivery).objects.filter(pk=delivery.pk).update(first_name="D'Arcy\r\n", last_name="Kim & Lee")
    account.refresh_from_db()
    deal.refresh_from_db()
    delivery.refresh_from_db()


def _one_line(messages: list[EmailMessage]) -> None:
    assert messages
    for message in messages:
        assert "\r" not in message.subject and "\n" not in message.subject, message.subject
        message.message()  # what the backend does: raises BadHeaderError on a bad header


# --- The one header builder -------------------------------------------------------------------


def test_header_text_makes_one_line_of_any_name():
    assert header_text("Smith & Jones\r\n Ltd\t(UK)\u2028\x00x") == "Smith & Jones Ltd (UK) x"
    assert header_text("\u202eevil\u202c name") == "evil name"  # bidi overrides are dropped
    assert header_text("a" * 300) == "a" * 249 + "…"


def test_an_email_message_has_a_one_line_subject_and_unescaped_text():
    message = email_message(
        subject="Smith & Jones's\r\nRobotics", template="handover/email/back_notice", to=["rep@vendor.example"],
        context={"handover": {"deal": {"name": "A & B's"}, "account": {"name": "<C>"}, "rep": {"username": "r"},
                              "get_state_display": "Returned", "last_reason": "\"quoted\""}},
    )
    assert message.subject == "Smith & Jones's Robotics"
    assert "A & B's (<C>)" in message.body and '"quoted"' in message.body
    message.message()


def test_the_ownership_notice_html_stays_escaped_and_its_text_does_not(account, rep2, salesmgr, mailoutbox):
    Account.objects.filter(pk=account.pk).update(name="<b>Smith</b> & Jones's")
    with TestCase.captureOnCommitCallbacks(execute=True):
        flows.account_reassign(account=Account.objects.get(pk=account.pk), to_user=rep2, by=salesmgr)
    [message] = mailoutbox
    assert message.subject == "You now own <b>Smith</b> & Jones's"
    assert "<b>Smith</b> & Jones's" in message.body
    html = message.alternatives[0][0]
    assert "&lt;b&gt;Smith&lt;/b&gt; &amp; Jones&#x27;s" in html and "<b>Smith</b>" not in html


def test_the_suite_wide_check_finds_html_entities_in_subjects_and_text():
    assert escaped_text_in("Smith &amp; Jones", []) == ["subject: &amp;"]
    assert escaped_text_in("ok", ["isn&#x27;t", "a &lt; b", "&#39;", "&quot;x&quot;", "&eacute;"]) == [
        "text: &#x27;", "text: &lt;", "text: &#39;", "text: &quot;", "text: &quot;", "text: &eacute;",
    ]
    assert escaped_text_in("Smith & Jones's", ["R&D, it's <fine>", "AT&T"]) == []


# --- Every email kind, with the names an old row may hold --------------------------------------


def test_acceptance_emails_the_customer_and_team_despite_a_line_break_in_the_names(
    old_rows, deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    _one_line(mailoutbox)
    intro = next(m for m in mailoutbox if m.to == ["alice@acme.example"])
    assert intro.subject == f"Your delivery owner for {DEAL_LINE}: D'Arcy Kim & Lee"
    assert "Thank you for choosing us for Line 2 & 3" in intro.body and "D'Arcy" in intro.body
    notes = [m for m in mailoutbox if m.subject.startswith("Handover accepted")]
    assert [m.subject for m in notes] == [f"Handover accepted: {ACCOUNT_LINE} — {DEAL_LINE}"] * 2
    handover = Handover.objects.get(deal=deal)
    assert handover.acceptance_notified_at is not None and handover.acceptance_email_failed_at is None


def test_the_back_notice_and_the_escalation_survive_a_line_break_in_the_names(
    old_rows, deal, rep, salesmgr, deliverymgr, mailoutbox
):
    handover = approve_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)
    Handover.objects.filter(pk=handover.pk).update(accept_deadline=timezone.now() - timedelta(minutes=1))
    with TestCase.captureOnCommitCallbacks(execute=True):
        notices.dispatch()
    [escalation] = [m for m in mailoutbox if m.subject.startswith("Overdue")]  # beside the acceptance request
    assert escalation.subject == f"Overdue handover: {ACCOUNT_LINE} — {DEAL_LINE}"
    with TestCase.captureOnCommitCallbacks(execute=True):
        handover_services.handover_reject(handover=handover, by=deliverymgr, reason="Scope & dates aren't agreed")
    back = mailoutbox[1]
    assert back.subject == f"Handover rejected by delivery: {DEAL_LINE}" and "Scope & dates aren't agreed" in back.body
    _one_line(mailoutbox)
    assert Notice.objects.get(kind="handover.back_notice").state == Notice.State.SENT


def test_signoff_request_reminders_and_answer_survive_a_line_break_in_the_names(
    old_rows, deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    stage = project.stages.get(position=1)
    Stage.objects.filter(pk=stage.pk).update(name="Kick-off & plan's\r\nreview")
    stage.refresh_from_db()
    delivery_services.stage_start(stage=stage, by=delivery)
    mailoutbox.clear()
    alice = Contact.objects.get(account=project.account, email="alice@acme.example")
    with TestCase.captureOnCommitCallbacks(execute=True):
        link = delivery_services.stage_request_signoff(stage=stage, by=delivery, contact=alice, delivered="A & B's")
    [request] = mailoutbox
    assert request.subject == f"Please review and sign off: Kick-off & plan's review ({DEAL_LINE})"
    assert "A & B's" in request.body
    assert CustomerLink.objects.get(pk=link.pk).email_failed_at is None
    Notice.objects.exclude(kind__startswith="delivery.").update(state=Notice.State.CANCELLED)
    _dispatch(timezone.now() + timedelta(days=5, minutes=1))
    reminders = mailoutbox[1:]
    assert sorted(m.subject for m in reminders) == [
        "Reminder: Kick-off & plan's review is waiting for your sign-off",
        f"Still waiting for sign-off: Kick-off & plan's review at {ACCOUNT_LINE}",
    ]
    fresh = CustomerLink.objects.get(purpose="signoff", revoked_at__isnull=True)
    with TestCase.captureOnCommitCallbacks(execute=True):
        flows.customer_answer(link=fresh, signed_off=True, typed_name="Alice O'Neil & Co", ip=None,
                                          user_agent="")
    assert mailoutbox[-1].subject == "Alice O'Neil & Co signed off Kick-off & plan's review"
    _one_line(mailoutbox)


def test_portal_link_renewal_and_critical_problem_survive_a_line_break_in_the_names(
    old_rows, deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    mailoutbox.clear()
    alice = Contact.objects.get(account=project.account, email="alice@acme.example")
    with TestCase.captureOnCommitCallbacks(execute=True):
        link = delivery_services.portal_link_issue(account=project.account, by=delivery, contact=alice)
    assert mailoutbox[0].subject == f"Follow the delivery for {ACCOUNT_LINE}"
    assert CustomerLink.objects.get(pk=link.pk).emailed_at is not None
    links.link_request_renewal(link)
    with TestCase.captureOnCommitCallbacks(execute=True):
        notices.notice_schedule(kind="crm.link_renewal", key=f"link-renewal:{link.pk}", target=link.target,
                                data={"link": link.pk}, send_now=True)
    assert mailoutbox[1].subject == f"Alice O'Neil & Co at {ACCOUNT_LINE} asks for a new customer portal link"
    with TestCase.captureOnCommitCallbacks(execute=True):
        delivery_services.problem_raise(account=project.account, by=delivery, title="Arm & gripper\r\nwon't start",
                                        category="product_defect", severity="critical")
    assert mailoutbox[2].subject == f"Critical problem at {ACCOUNT_LINE}: Arm & gripper won't start"
    _one_line(mailoutbox)


def test_check_up_reminders_escalations_surveys_and_digests_survive_a_line_break_in_the_names(
    old_rows, deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    delivery.profile.manager = deliverymgr
    delivery.profile.save()
    with time_machine.travel(MONDAY_8AM, tick=False):
        accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    for touchpoint in Touchpoint.objects.all():
        Touchpoint.objects.filter(pk=touchpoint.pk).update(title=f"{touchpoint.title} & co's\r\nnote")
    mailoutbox.clear()
    # Day 0 and 1: the reminders and digests; day 3: the first two missed; the review meeting's
    # day-before reminder on day 29 and the day-7 survey (answered unhappily: an alert).
    for at in (MONDAY_8AM + timedelta(hours=2), MONDAY_8AM + timedelta(days=1, hours=2),
               MONDAY_8AM + timedelta(days=3, hours=2)):
        _dispatch(at)
    checkup = Touchpoint.objects.get(kind="checkup_call")
    with time_machine.travel(checkup.due_at + timedelta(minutes=5), tick=False):
        _dispatch(timezone.now())
        touchpoint_services.touchpoint_complete(touchpoint=checkup, by=delivery, satisfaction=4, as_expected=True)
    _dispatch(Touchpoint.objects.get(kind="review_meeting").due_at - timedelta(hours=20))
    subjects = [m.subject for m in mailoutbox]
    assert any(s.startswith("Due now: Thank-you note") and s.endswith(f"& co's note with {ACCOUNT_LINE}")
               for s in subjects), subjects
    assert any(s.startswith("Missed check-up: Delivery confirmation") and s.endswith(f"& co's note at {ACCOUNT_LINE}")
               for s in subjects), subjects
    assert any(s.startswith("Tomorrow: Review meeting") and "& co's note" in s for s in subjects), subjects
    assert any(s.startswith("Today:") for s in subjects)
    survey = next(m for m in mailoutbox if m.subject.startswith("How is it going"))
    assert survey.subject.startswith("How is it going, Alice? Two questions from D'Arcy Kim & Lee")
    link = CustomerLink.objects.filter(purpose="survey").latest("created_at")
    with TestCase.captureOnCommitCallbacks(execute=True):
        touchpoint_services.survey_answer(link=link, satisfaction=1, as_expected=False, comment="It's late & slow",
                                          ip=None, user_agent="")
    alert = mailoutbox[-1]
    assert alert.subject == f"Unhappy customer: {ACCOUNT_LINE} scored 1/5" and "It's late & slow" in alert.body
    _one_line(mailoutbox)


# --- Times in the recipient's time zone, named ------------------------------------------------


def test_times_in_emails_are_in_the_recipients_time_zone_and_name_it(
    deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    delivery.profile.time_zone = "Europe/Paris"
    delivery.profile.save()
    deliverymgr.profile.time_zone = "America/New_York"
    deliverymgr.profile.save()
    handover = approve_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)
    deadline = datetime(2027, 1, 12, 15, 30, tzinfo=UTC)
    Handover.objects.filter(pk=handover.pk).update(accept_deadline=deadline)
    _dispatch(deadline + timedelta(minutes=1))
    [escalation] = [m for m in mailoutbox if m.subject.startswith("Overdue")]  # beside the acceptance request
    assert "12 Jan 2027, 10:30 (America/New_York)" in escalation.body and "UTC" not in escalation.body
    mailoutbox.clear()
    with time_machine.travel(MONDAY_8AM, tick=False):
        flows.handover_accept(handover=Handover.objects.get(pk=handover.pk), by=deliverymgr,
                                          delivery_owner=delivery)
    confirmation = Touchpoint.objects.get(kind="delivery_confirmation")
    Notice.objects.exclude(target=f"touchpoints.touchpoint:{confirmation.pk}").update(state=Notice.State.CANCELLED)
    _dispatch(confirmation.due_at)
    [reminder] = [m for m in mailoutbox if m.subject.startswith("Due now")]
    local = confirmation.due_at.astimezone(timezone.get_default_timezone()).replace(tzinfo=None)
    paris = confirmation.due_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert local.hour != paris.hour
    assert f"{paris:%H:%M} (Europe/Paris)" in reminder.body
