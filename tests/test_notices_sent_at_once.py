"""The emails someone waits for at once (the acceptance emails, a customer link, a new owner's
notice) are outbox notices owed in the writing transaction, one per handover, link or batch of
ledger rows, and sent by a task of their own. A message of that task queued before they were
notices still sends its email, once; a failed one that staff retry from the outbox's admin goes,
and the page stops showing the failure."""

from __future__ import annotations

from typing import Any

from django.test import TestCase
from django.urls import reverse

from crm.models import Contact, OwnershipChange
from customer_links.models import CustomerLink
from delivery import services as delivery_services
from flows import actions as flows
from handover.models import Handover
from outbox import notices
from outbox.models import Notice
from tests.scenarios import accept_deal, client_for


def test_each_email_sent_at_once_is_one_notice_keyed_by_what_it_is_about(
    deal, other_account, rep, rep2, salesmgr, deliverymgr, delivery, mailoutbox
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
        change = flows.account_reassign(account=other_account, to_user=rep, by=salesmgr)
        alice = Contact.objects.get(account=project.account, first_name="Alice")
        link = delivery_services.portal_link_issue(account=project.account, by=delivery, contact=alice)
    handover = Handover.objects.get(deal=deal)
    sent = Notice.objects.filter(state=Notice.State.SENT)
    assert sent.get(key=f"handover.acceptance:{handover.pk}").kind == "handover.acceptance"
    assert sent.get(key=f"crm.ownership_notice:{change.pk}").data == {"changes": [change.pk]}
    assert sent.get(key=f"customer_links.email:{link.pk}").recipients == ["alice@acme.example"]
    # The rows the pages read were written by each notice's outcome, when it was sent.
    assert Handover.objects.get(pk=handover.pk).acceptance_notified_at is not None
    assert OwnershipChange.objects.get(pk=change.pk).notified_at is not None
    assert CustomerLink.objects.get(pk=link.pk).emailed_at is not None


def _as_if_queued_before_the_outbox(handover: Handover) -> None:
    Notice.objects.filter(key=f"handover.acceptance:{handover.pk}").delete()
    Handover.objects.filter(pk=handover.pk).update(acceptance_notified_at=None)


def test_an_acceptance_task_queued_before_the_outbox_still_sends_its_emails_once(
    deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    handover = Handover.objects.get(deal=deal)
    _as_if_queued_before_the_outbox(handover)
    from handover.tasks import send_acceptance_emails

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert send_acceptance_emails(handover.pk) == 0  # owes the notice and queues itself again
    assert len(mailoutbox) == 4
    assert Notice.objects.get(key=f"handover.acceptance:{handover.pk}").state == Notice.State.SENT
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert send_acceptance_emails(handover.pk) == 0
    assert len(mailoutbox) == 4


def test_a_link_task_queued_before_the_outbox_for_an_emailed_link_sends_nothing(
    project, delivery, mailoutbox
):
    alice = Contact.objects.get(account=project.account, first_name="Alice")
    with TestCase.captureOnCommitCallbacks(execute=True):
        link = delivery_services.portal_link_issue(account=project.account, by=delivery, contact=alice)
    Notice.objects.filter(key=f"customer_links.email:{link.pk}").delete()
    mailoutbox.clear()
    from customer_links.tasks import email_customer_link

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert email_customer_link(link.pk) == 0
    assert mailoutbox == [] and not Notice.objects.filter(key=f"customer_links.email:{link.pk}").exists()


def test_failed_acceptance_emails_retried_by_staff_go_and_leave_the_page(
    deal, rep, salesmgr, deliverymgr, delivery, mailoutbox, settings
):
    # The dispatcher below also runs the producers: on a weekday after DIGEST_HOUR the morning
    # digest would add its emails to the count. An hour no clock reaches keeps it out.
    settings.KEEPWARM = {**settings.KEEPWARM, "DIGEST_HOUR": 24}
    Contact.objects.filter(first_name="Alice").update(email="alice@acme.example\r\nBcc: x@y.example")
    with TestCase.captureOnCommitCallbacks(execute=True):
        accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    handover = Handover.objects.get(deal=deal)
    notice = Notice.objects.get(key=f"handover.acceptance:{handover.pk}")
    assert notice.state == Notice.State.FAILED and mailoutbox == []
    page: Any = client_for(deliverymgr).get(reverse("handover:handover_detail", args=[handover.pk]))
    assert "could not be sent" in page.content.decode()

    Contact.objects.filter(first_name="Alice").update(email="alice@acme.example")
    assert notices.notice_retry(notice=notice) is True
    with TestCase.captureOnCommitCallbacks(execute=True):
        notices.dispatch()
    handover.refresh_from_db()
    assert handover.acceptance_notified_at is not None and handover.acceptance_email_failed_at is None
    assert len(mailoutbox) == 4
    page = client_for(deliverymgr).get(reverse("handover:handover_detail", args=[handover.pk]))
    assert "could not be sent" not in page.content.decode()
