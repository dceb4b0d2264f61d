"""One source, two channels: every notice that emails a staff member also lands in their bell,
written by the outbox's sender from the same row in the transaction that marks it sent
(outbox.notices.deliver). A user may turn a kind's email off and keep its bell entries.

The scenarios walk the product through every registered kind, through the real dispatcher and
sender (on-commit sends run, beat's ticks are `notices.dispatch`), then check each sent notice:
its bell entries are exactly its staff recipients, and a customer's email has none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from smtplib import SMTPException
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.mail.backends.base import BaseEmailBackend
from django.test import TestCase
from django.utils import timezone

from crm import roles
from crm.models import Contact
from customer_links import services as links
from customer_links.models import CustomerLink
from delivery import services as delivery_services
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from outbox import notices, services
from outbox.models import EmailOptOut, Notice, Notification
from tests.scenarios import accept_deal, approve_deal, make_user, submit_deal
from touchpoints import services as touchpoint_services
from touchpoints.models import Touchpoint

pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")

MONDAY_8AM = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)

# The registered kinds, read one by one: which email staff (and so reach the bell) and which
# only ever email customers.
STAFF_KINDS = {
    "handover.review_request", "handover.acceptance_request", "handover.acceptance", "handover.back_notice",
    "handover.escalation", "crm.ownership_notice", "touchpoints.reminder", "touchpoints.reminder_day_before",
    "touchpoints.missed", "touchpoints.digest", "touchpoints.survey_alert", "delivery.signoff_reminder_owner",
    "delivery.customer_answered", "delivery.problem_critical", "crm.link_renewal",
}
CUSTOMER_KINDS = {"customer_links.email", "delivery.signoff_reminder", "touchpoints.survey"}


def _dispatch(at: datetime) -> None:
    with time_machine.travel(at, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        notices.dispatch()


def _staff_addresses() -> set[str]:
    return set(User.objects.exclude(email="").values_list("email", flat=True))


def _check_every_sent_notice() -> set[str]:
    """Each sent notice's bell entries are its staff recipients, one each, with the email's
    subject; returns the kinds that reached a bell."""
    staff = _staff_addresses()
    reached = set()
    for notice in Notice.objects.filter(state=Notice.State.SENT):
        entries = list(notice.notifications.select_related("user"))
        assert sorted(n.user.email for n in entries) == sorted(a for a in notice.recipients if a in staff), notice.kind
        assert len({n.user_id for n in entries}) == len(entries)
        if entries:
            reached.add(notice.kind)
            assert all(n.title and n.link.startswith("/") and n.kind == notice.kind for n in entries), notice.kind
    assert not Notification.objects.exclude(notice__state=Notice.State.SENT).exists()
    return reached


def test_every_kind_is_either_a_staff_kind_with_a_topic_or_a_customer_one():
    assert set(notices._builders) == STAFF_KINDS | CUSTOMER_KINDS
    assert set(notices._topics) == STAFF_KINDS


def test_the_handover_steps_reach_the_bells_of_the_managers_and_the_rep(
    deal, other_account, rep, rep2, salesmgr, deliverymgr, delivery, mailoutbox
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        handover = submit_deal(deal, rep=rep)
    [review] = Notification.objects.filter(kind="handover.review_request")
    assert review.user == salesmgr and review.link == f"/handovers/{handover.pk}/" and review.read_at is None
    assert [m.to for m in mailoutbox if m.subject.startswith("Review request")] == [[salesmgr.email]]

    with TestCase.captureOnCommitCallbacks(execute=True):
        approve_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)
    assert Notification.objects.get(kind="handover.acceptance_request").user == deliverymgr
    Handover.objects.filter(pk=handover.pk).update(accept_deadline=timezone.now() - timedelta(minutes=1))
    _dispatch(timezone.now())
    assert Notification.objects.get(kind="handover.escalation").user == deliverymgr

    with TestCase.captureOnCommitCallbacks(execute=True):
        handover_services.handover_reject(handover=Handover.objects.get(pk=handover.pk), by=deliverymgr,
                                          reason="Scope is not agreed.")
        flows.account_reassign(account=other_account, to_user=rep, by=salesmgr)
    assert Notification.objects.get(kind="handover.back_notice").user == rep
    assignment = Notification.objects.get(kind="crm.ownership_notice")
    assert assignment.user == rep and assignment.link == f"/accounts/{other_account.pk}/"
    assert _check_every_sent_notice() == {
        "handover.review_request", "handover.acceptance_request", "handover.escalation", "handover.back_notice",
        "crm.ownership_notice",
    }


def test_acceptance_and_delivery_reach_staff_bells_and_customer_emails_none(
    deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    accepted = Notice.objects.get(kind="handover.acceptance")
    assert {n.user for n in accepted.notifications.all()} == {rep, delivery}  # not the customer's contacts
    assert {"alice@acme.example", "bruno@acme.example"} <= set(accepted.recipients)

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
    with TestCase.captureOnCommitCallbacks(execute=True):
        flows.customer_answer(link=fresh, signed_off=True, typed_name="Alice Martin", ip=None, user_agent="")
        portal = delivery_services.portal_link_issue(account=project.account, by=delivery, contact=alice)
    links.link_request_renewal(portal)
    with TestCase.captureOnCommitCallbacks(execute=True):
        notices.notice_schedule(kind="crm.link_renewal", key=f"link-renewal:{portal.pk}", target=portal.target,
                                data={"link": portal.pk}, send_now=True)
        delivery_services.problem_raise(account=project.account, by=delivery, title="Arm won't start",
                                        category="product_defect", severity="critical")
    reached = _check_every_sent_notice()
    assert reached == {
        "handover.acceptance", "delivery.signoff_reminder_owner", "delivery.customer_answered", "crm.link_renewal",
        "delivery.problem_critical",
    }
    sent_kinds = set(Notice.objects.filter(state=Notice.State.SENT).values_list("kind", flat=True))
    assert {"customer_links.email", "delivery.signoff_reminder"} <= sent_kinds  # sent, to customers, no bell
    critical = Notification.objects.filter(kind="delivery.problem_critical")
    assert {n.user for n in critical} == {delivery, deliverymgr, rep}


def test_the_check_up_notices_reach_their_owners_and_managers_bells(
    deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
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
    link = CustomerLink.objects.filter(purpose="survey").latest("created_at")
    with TestCase.captureOnCommitCallbacks(execute=True):
        touchpoint_services.survey_answer(link=link, satisfaction=1, as_expected=False, comment="Late.",
                                          ip=None, user_agent="")
    assert _check_every_sent_notice() == {
        "touchpoints.reminder", "touchpoints.reminder_day_before", "touchpoints.missed", "touchpoints.digest",
        "touchpoints.survey_alert",
    }
    assert Notice.objects.filter(kind="touchpoints.survey", state=Notice.State.SENT).exists()  # a customer's: no bell
    assert deliverymgr in {n.user for n in Notification.objects.filter(kind="touchpoints.missed")}  # delivery's manager


# --- Once per (notice, user), whatever happens to the send ----------------------------------------


@pytest.fixture
def submitted_unsent(deal, rep, salesmgr) -> Notice:
    """A handover submitted for review; its review request owed and claimed, not sent yet."""
    submit_deal(deal, rep=rep)
    return Notice.objects.get(kind="handover.review_request")


def test_a_notice_sent_again_adds_no_second_bell_entry(submitted_unsent, salesmgr, mailoutbox):
    assert notices.deliver(submitted_unsent.pk) == Notice.State.SENT
    assert notices.deliver(submitted_unsent.pk) == Notice.State.SENT  # a redelivered task
    _dispatch(timezone.now() + timedelta(hours=1))
    assert Notification.objects.filter(user=salesmgr).count() == 1 and len(mailoutbox) == 1


class DownBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        raise SMTPException("421 4.3.2 Service not available")


def test_a_failed_send_leaves_no_bell_entry_and_its_retry_writes_one(submitted_unsent, salesmgr, settings, mailoutbox):
    settings.EMAIL_BACKEND = "tests.test_notifications.DownBackend"
    assert notices.deliver(submitted_unsent.pk) == Notice.State.PENDING  # backs off
    assert not Notification.objects.exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _dispatch(timezone.now() + timedelta(minutes=5))
    assert Notice.objects.get(pk=submitted_unsent.pk).state == Notice.State.SENT
    assert Notification.objects.filter(user=salesmgr, notice=submitted_unsent).count() == 1


# --- The email, per kind, is each user's choice ---------------------------------------------------


def test_an_opted_out_manager_gets_the_bell_entry_and_no_email_and_the_others_theirs(
    deal, rep, salesmgr, mailoutbox
):
    other = make_user("salesmgr2", roles.SALES_MANAGER)
    services.email_choices_set(user=salesmgr, by=salesmgr, choices={"review_requests": False})
    with TestCase.captureOnCommitCallbacks(execute=True):
        submit_deal(deal, rep=rep)
    notice = Notice.objects.get(kind="handover.review_request")
    assert notice.state == Notice.State.SENT and notice.recipients == [other.email]
    assert [m.to for m in mailoutbox] == [[other.email]]
    entries = {n.user: n.emailed for n in notice.notifications.all()}
    assert entries == {salesmgr: False, other: True}


def test_a_notice_whose_only_recipient_opted_out_ends_sent_with_its_bell_entry(deal, rep, salesmgr, mailoutbox):
    services.email_choices_set(user=salesmgr, by=salesmgr, choices={"review_requests": False})
    with TestCase.captureOnCommitCallbacks(execute=True):
        submit_deal(deal, rep=rep)
    notice = Notice.objects.get(kind="handover.review_request")
    assert (notice.state, notice.recipients, notice.last_error) == (Notice.State.SENT, [], "")
    assert notice.sent_at is not None and mailoutbox == []
    assert Notification.objects.get(notice=notice).user == salesmgr


def test_opting_out_of_one_topic_keeps_the_others_emails(deal, rep, salesmgr, deliverymgr, mailoutbox):
    services.email_choices_set(user=deliverymgr, by=deliverymgr, choices={"escalations": False})
    with TestCase.captureOnCommitCallbacks(execute=True):
        handover = approve_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)
    assert [m.subject for m in mailoutbox if deliverymgr.email in m.to][0].startswith("Acceptance request")
    Handover.objects.filter(pk=handover.pk).update(accept_deadline=timezone.now() - timedelta(minutes=1))
    mailoutbox.clear()
    _dispatch(timezone.now())
    assert mailoutbox == [] and Notification.objects.get(kind="handover.escalation").emailed is False


def test_one_email_to_several_people_leaves_out_only_the_opted_out_address(
    deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    services.email_choices_set(user=rep, by=rep, choices={"problems": False})
    with TestCase.captureOnCommitCallbacks(execute=True):
        delivery_services.problem_raise(account=project.account, by=delivery, title="Arm won't start",
                                        category="product_defect", severity="critical")
    [email] = [m for m in mailoutbox if m.subject.startswith("Critical problem")]
    assert sorted(email.to) == sorted([delivery.email, deliverymgr.email])
    assert {n.user: n.emailed for n in Notification.objects.filter(kind="delivery.problem_critical")} == {
        rep: False, delivery: True, deliverymgr: True,
    }


def test_email_choices_refuse_an_unknown_kind_and_save_nothing(rep):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        services.email_choices_set(user=rep, by=rep, choices={"review_requests": False, "gossip": False})
    assert "gossip" in refused.value.message_dict["email"][0]
    assert not EmailOptOut.objects.exists()


def test_email_choices_saved_unchanged_change_nothing(rep, django_assert_num_queries):
    services.email_choices_set(user=rep, by=rep, choices={"digest": False, "reminders": True})
    [row] = EmailOptOut.objects.all()
    services.email_choices_set(user=rep, by=rep, choices={"digest": False, "reminders": True})
    assert list(EmailOptOut.objects.all()) == [row] and row.topic == "digest"
    services.email_choices_set(user=rep, by=rep, choices={"digest": True})
    assert not EmailOptOut.objects.exists()
