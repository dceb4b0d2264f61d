"""What the customer sees through a link (no internal data), and the customer portal."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from crm.models import Account
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import SignOff, Stage
from flows import actions as flows
from handover.models import Handover, Promise, PromiseReview
from tests.scenarios import (
    SIGNED_OFF,
    body,
    issue_portal,
    landed,
    request_signoff,
    sign,
    signoff_url,
    stage,
)

# --- What the customer sees ----------------------------------------------------------------------


SECRETS = {
    "review": "REVIEW-COMMENT-7f3a",
    "risk": "HANDOVER-RISK-91bc",
    "notes": "ACCOUNT-NOTE-5d2e",
    "problem": "PROBLEM-TITLE-c48d",
    "problem_text": "PROBLEM-DESCRIPTION-0a9f",
    "expectations": "EXPECTATIONS-3b61",
}


@pytest.fixture
def internal_data(project: Any, owner: Any, salesmgr: Any) -> Promise:
    """Distinctive internal text on everything around the delivery; returns the stage's promise."""
    promise = Promise.objects.get(deal=project.deal)
    PromiseReview.objects.create(
        promise=promise, kind=PromiseReview.Kind.SALES, verdict="at_risk", comment=SECRETS["review"], reviewer=salesmgr
    )
    Handover.objects.filter(pk=project.handover_id).update(
        risks=SECRETS["risk"], customer_expectations=SECRETS["expectations"]
    )
    Account.objects.filter(pk=project.account_id).update(notes=SECRETS["notes"])
    services.stage_set_promises(stage=stage(project, 1), by=owner, promises=[promise])
    services.problem_raise(
        account=project.account, by=owner, title=SECRETS["problem"], description=SECRETS["problem_text"],
        category="customer_change", severity="medium", promises=[promise],
    )
    return promise


def assert_no_internal_text(response: Any) -> None:
    text = body(response)
    for name, secret in SECRETS.items():
        assert secret not in text, (name, response.status_code)
    assert "Problem" not in text and "at risk" not in text.lower()


def test_customer_pages_show_only_what_the_customer_may_see(
    project, owner, internal_data, mailoutbox, django_capture_on_commit_callbacks
):
    promise = internal_data
    link, path = request_signoff(project, 1, owner, mailoutbox, django_capture_on_commit_callbacks)
    _portal, portal_path = issue_portal(project, owner, mailoutbox, django_capture_on_commit_callbacks)
    client = landed(path)
    url = signoff_url(stage(project, 1))

    page = client.get(url)
    assert page.status_code == 200 and promise.description in body(page)
    responses = [
        page,
        client.post(url, {"typed_name": "", "decision": "sign_off"}),
        client.get(portal_path, follow=True),
        client.get(f"/c/signoff/{stage(project, 2).pk}/"),  # wrong target
    ]
    sign(client, url, SIGNED_OFF)
    responses += [client.get(url), sign(client, url, SIGNED_OFF)]
    for response in responses:
        assert_no_internal_text(response)
    # And the emails the customer got.
    for message in mailoutbox:
        if message.to == ["alice@acme.example"]:
            assert not any(secret in message.body for secret in SECRETS.values())


# --- The portal ----------------------------------------------------------------------------------


def test_the_portal_shows_stages_owner_and_the_pending_signoff(
    project, owner, portal_link, mailoutbox, django_capture_on_commit_callbacks
):
    request_signoff(project, 1, owner, mailoutbox, django_capture_on_commit_callbacks)
    services.stage_start(stage=stage(project, 2), by=owner)
    client = landed(portal_link[1])

    response = client.get(f"/c/portal/{project.account_id}/")

    text = body(response)
    assert response.status_code == 200
    assert owner.get_full_name() in text and owner.email in text
    assert "Waiting for your sign-off" in text and "Kickoff: we emailed Alice Martin" in text
    for s in project.stages.all():
        assert s.name in text
    assert "Awaiting sign-off" in text and "In progress" in text and "Planned" in text
    assert "Upcoming check-ups" in text


def test_a_revoked_portal_link_stops_working(project, owner, portal_link, mailoutbox):
    client = landed(portal_link[1])
    url = f"/c/portal/{project.account_id}/"
    assert client.get(url).status_code == 200

    services.portal_link_revoke(account=project.account, by=owner)

    response = client.get(url)
    assert response.status_code == 410 and "This link is no longer valid" in body(response)
    assert "Waiting for your sign-off" not in body(response) and "Kickoff" not in body(response)
    assert Client().get(portal_link[1], follow=True).status_code == 410


def test_a_contact_who_left_loses_their_live_links(project, owner, signoff_link, portal_link, mailoutbox):
    signoff_browser, portal_browser = landed(signoff_link[1]), landed(portal_link[1])
    alice = project.account.contacts.get(first_name="Alice")

    flows.contact_update(
        contact=alice, by=owner, is_active=False, is_primary=False, left_at=timezone.localdate()
    )

    for link, _path in (signoff_link, portal_link):
        assert CustomerLink.objects.get(pk=link.pk).revoked_at is not None
    url = signoff_url(stage(project, 1))
    assert signoff_browser.get(url).status_code == 410
    assert sign(signoff_browser, url, SIGNED_OFF).status_code == 410
    assert portal_browser.get(f"/c/portal/{project.account_id}/").status_code == 410
    assert SignOff.objects.count() == 0 and stage(project, 1).state == Stage.State.AWAITING_SIGNOFF


def test_a_rolled_back_signoff_request_sends_no_email(project, owner, mailoutbox, django_capture_on_commit_callbacks):
    """reliability.md 19: the link email is queued on commit; a rollback sends nothing."""
    from django.db import transaction

    s = stage(project, 1)
    services.stage_start(stage=s, by=owner)
    alice = project.account.contacts.get(first_name="Alice")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.stage_request_signoff(stage=s, by=owner, contact=alice, delivered="Done.")
            raise RuntimeError("the request fails after the link was issued")
    assert mailoutbox == [] and not CustomerLink.objects.exists()
    assert stage(project, 1).state == Stage.State.IN_PROGRESS
