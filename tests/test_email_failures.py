"""Emails that fail end visible, one owner reminder goes per stage however often sign-off is asked,
and the development mail viewer shows what was sent."""

from __future__ import annotations

from datetime import timedelta
from smtplib import SMTPServerDisconnected
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from core.mail import email_message, header_text
from crm.models import Contact, OwnershipChange
from customer_links.models import CustomerLink
from delivery import services as delivery_services
from delivery.models import Stage
from flows import actions as flows
from handover.models import Handover
from outbox import notices
from outbox.models import Notice
from tests.scenarios import MONDAY_8AM, _dispatch, accept_deal, api_for, client_for

pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")


class DownBackend(BaseEmailBackend):
    """A mail server that is down: every send raises, and is counted."""

    calls = 0

    def send_messages(self, email_messages: Any) -> int:
        DownBackend.calls += 1
        raise SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def down(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mail server is down; eager tasks retry in place, as a worker would after its backoff
    (with eager propagation on, Celery would raise the retry instead of running it)."""
    from config.celery_app import app

    DownBackend.calls = 0
    settings.EMAIL_BACKEND = f"{__name__}.DownBackend"
    monkeypatch.setattr(app.conf, "task_eager_propagates", False)


# --- Failures end visible ----------------------------------------------------------------------


def test_an_outbox_send_that_retrying_cannot_cure_fails_at_once_with_its_error(db, monkeypatch, mailoutbox):
    def bad_header(notice: Notice) -> list[EmailMessage]:
        return [EmailMessage(subject="Smith\r\nBcc: everyone@example.com", body="-", to=["ops@vendor.example"])]

    monkeypatch.setitem(notices._builders, "test.bad_header", bad_header)
    notice = Notice.objects.create(kind="test.bad_header", key="bad-header", target="test:1", due_at=MONDAY_8AM)
    _dispatch(MONDAY_8AM)
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (Notice.State.FAILED, 1)
    assert notice.last_error.startswith("BadHeaderError")
    assert mailoutbox == []


def test_acceptance_emails_that_cannot_be_sent_end_failed_on_the_handover_and_its_page(
    deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    # An old contact row whose address holds a line break: Django refuses it, every time.
    Contact.objects.filter(first_name="Alice").update(email="alice@acme.example\r\nBcc: x@y.example")
    with TestCase.captureOnCommitCallbacks(execute=True):
        accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    handover = Handover.objects.get(deal=deal)
    assert handover.acceptance_email_failed_at is not None and handover.acceptance_notified_at is None
    assert handover.acceptance_email_error.startswith("ValueError") or handover.acceptance_email_error.startswith(
        "BadHeaderError"
    )
    # Redelivering the task sends nothing more: the failure is final until someone acts.
    from handover.tasks import send_acceptance_emails

    assert send_acceptance_emails(handover.pk) == 0
    page = client_for(deliverymgr).get(reverse("handover:handover_detail", args=[handover.pk]))
    assert "could not be sent" in page.content.decode()
    root = type(rep).objects.create_superuser("root", "root@vendor.example", "pw")
    listing = client_for(root).get(reverse("admin:handover_handover_changelist") + "?acceptance_email_failed_at__isempty=0")
    assert listing.status_code == 200 and "Acme line 2" in listing.content.decode()


def test_acceptance_emails_with_the_mail_server_down_are_retried_then_end_failed(
    down, deal, rep, salesmgr, deliverymgr, delivery, mailoutbox
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    handover = Handover.objects.get(deal=deal)
    assert DownBackend.calls == 7  # the first try and six retries (with backoff on a real worker)
    assert handover.acceptance_email_failed_at is not None
    assert handover.acceptance_email_error.startswith("SMTPServerDisconnected")


def test_a_signoff_link_that_cannot_be_emailed_ends_failed_on_the_link_and_the_project_page(
    project, delivery, mailoutbox
):
    stage = project.stages.get(position=1)
    delivery_services.stage_start(stage=stage, by=delivery)
    alice = Contact.objects.get(account=project.account, first_name="Alice")
    Contact.objects.filter(pk=alice.pk).update(email="alice@acme.example\nBcc: x@y.example")
    mailoutbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        link = delivery_services.stage_request_signoff(stage=stage, by=delivery, contact=alice, delivered="Done.")
    link.refresh_from_db()
    assert link.emailed_at is None and link.email_failed_at is not None and link.email_error
    assert mailoutbox == []
    page = client_for(delivery).get(reverse("delivery:project_detail", args=[project.pk]))
    assert "could not be emailed" in page.content.decode()
    root = type(delivery).objects.create_superuser("root", "root@vendor.example", "pw")
    listing = client_for(root).get(reverse("admin:customer_links_customerlink_changelist"), {"email_failed_at__isempty": "0"})
    assert listing.status_code == 200 and "Stage sign-off" in listing.content.decode()
    assert link.email_error[:40].replace("'", "&#x27;") in listing.content.decode()
    api = api_for(delivery).get(f"/api/v1/stages/{stage.pk}/").json()["signoff_link"]
    assert api["emailed_at"] is None and api["email_failed_at"] and api["email_error"] == link.email_error


def test_a_portal_link_with_the_mail_server_down_is_retried_then_ends_failed(project, delivery, down):
    alice = Contact.objects.get(account=project.account, first_name="Alice")
    with TestCase.captureOnCommitCallbacks(execute=True):
        link = delivery_services.portal_link_issue(account=project.account, by=delivery, contact=alice)
    link.refresh_from_db()
    assert DownBackend.calls == 7
    assert link.emailed_at is None and link.email_error.startswith("SMTPServerDisconnected")


def test_an_ownership_notice_that_cannot_be_sent_ends_failed_on_its_rows(account, rep2, salesmgr, mailoutbox):
    type(rep2).objects.filter(pk=rep2.pk).update(email="rep2@vendor.example\r\nBcc: x@y.example")
    rep2.refresh_from_db()
    with TestCase.captureOnCommitCallbacks(execute=True):
        change = flows.account_reassign(account=account, to_user=rep2, by=salesmgr)
    change = OwnershipChange.objects.get(pk=change.pk)
    assert change.notified_at is None and change.notice_failed_at is not None and change.notice_error
    assert mail.outbox == []
    root = type(rep2).objects.create_superuser("root", "root@vendor.example", "pw")
    detail = client_for(root).get(reverse("admin:crm_ownershipchange_change", args=[change.pk]))
    assert detail.status_code == 200 and "Notice error" in detail.content.decode()


# --- One owner reminder per stage, however often sign-off is asked --------------------------------


def test_three_signoff_requests_leave_one_pending_reminder_of_each_kind(project, delivery, mailoutbox):
    stage = project.stages.get(position=1)
    delivery_services.stage_start(stage=stage, by=delivery)
    alice = Contact.objects.get(account=project.account, first_name="Alice")
    for _ in range(3):
        delivery_services.stage_request_signoff(stage=Stage.objects.get(pk=stage.pk), by=delivery, contact=alice,
                                                delivered="Done.")
    pending = Notice.objects.filter(target=f"delivery.stage:{stage.pk}", state=Notice.State.PENDING)
    assert sorted(pending.values_list("kind", flat=True)) == [
        "delivery.signoff_reminder", "delivery.signoff_reminder_owner"
    ]
    live = CustomerLink.objects.get(purpose="signoff", revoked_at__isnull=True, used_at__isnull=True)
    assert all(notice.data["link"] == live.pk for notice in pending)
    Notice.objects.exclude(kind__startswith="delivery.signoff").update(state=Notice.State.CANCELLED)
    mailoutbox.clear()
    _dispatch(timezone.now() + timedelta(days=6))
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@acme.example", delivery.email]


# --- The development mail viewer ----------------------------------------------------------------


def test_the_dev_mail_viewer_decodes_encoded_folded_subjects_and_shows_the_date(db, settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    subject = "Ihre Übergabe für Müller & Söhne's Werk — " + "sehr lange Betreffzeile " * 6
    message = email_message(subject=subject, template="crm/email/link_renewal", to=["zoë@kunde.example"],
                            context={"link": {"account": {"name": "Müller"}, "account_id": 1,
                                              "get_purpose_display": "Portal"},
                                     "owner": {"username": "rep"}, "who": "Zoë"})
    message.send()
    raw = next((tmp_path / "mail").glob("*.log")).read_text()
    assert "=?utf-8?" in raw and subject.strip() not in raw  # encoded and folded on disk
    from django.contrib.auth.models import User

    client = client_for(User.objects.create_superuser("root", "root@vendor.example", "pw"))
    listing = client.get(reverse("dev-mail")).content.decode()
    shown = header_text(subject).replace("&", "&amp;").replace("'", "&#x27;")  # as the page escapes it
    today = timezone.now().strftime("%a %d %b %Y")
    assert shown in listing and today in listing
    name = next((tmp_path / "mail").glob("*.log")).name
    page = client.get(reverse("dev-mail-detail", args=[name])).content.decode()
    assert shown in page and "zoë@kunde.example" in page
    assert "<dt>Date</dt><dd>" + today in page
    assert "opened a portal link that no longer works" in page and "Müller" in page
