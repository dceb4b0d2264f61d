"""shared from tests/test_customer_links.py"""
from __future__ import annotations
import secrets
from datetime import timedelta
from typing import Any
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from crm.models import Account, Activity
from customer_links import services as links
from customer_links.models import CustomerLink
from customer_links.pages import SESSION_KEY
from delivery import services
from delivery.models import SignOff, Stage
from flows import actions as flows
from handover.models import Handover, Promise, PromiseReview
from outbox.models import Notice

SIGNED_OFF = {"typed_name": "Alice Martin", "decision": "sign_off"}


def stage(project: Any, position: int) -> Stage:
    return project.stages.get(position=position)


def emailed_path(mailoutbox: list[Any], marker: str) -> str:
    """The path of the last emailed link containing `marker` (the email holds the full URL)."""
    for message in reversed(mailoutbox):
        for word in message.body.split():
            if marker in word:
                assert word.startswith(settings.SITE_URL)
                return word[len(settings.SITE_URL):]
    raise AssertionError(f"no {marker} link in {len(mailoutbox)} email(s)")


def raw_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def request_signoff(
    project: Any, position: int, by: Any, mailoutbox: list[Any], capture: Any, contact_name: str = "Alice",
) -> tuple[CustomerLink, str]:
    """Asks for sign-off of stage `position` the way the delivery owner does; returns the link
    and the path the customer got by email."""
    s = stage(project, position)
    if s.state == Stage.State.PLANNED:
        services.stage_start(stage=s, by=by)
    contact = project.account.contacts.get(first_name=contact_name)
    if contact.role != s.signer_role:
        type(contact).objects.filter(pk=contact.pk).update(role=s.signer_role)
        contact.refresh_from_db()
    with capture(execute=True):
        link = services.stage_request_signoff(
            stage=s, by=by, contact=contact, delivered="Kickoff held; the plan and the contacts are agreed."
        )
    return link, emailed_path(mailoutbox, "/c/signoff/open/")


def issue_portal(project: Any, by: Any, mailoutbox: list[Any], capture: Any) -> tuple[CustomerLink, str]:
    contact = project.account.contacts.get(first_name="Alice")
    with capture(execute=True):
        link = services.portal_link_issue(account=project.account, by=by, contact=contact)
    return link, emailed_path(mailoutbox, "/c/portal/open/")


def signoff_url(s: Stage) -> str:
    return f"/c/signoff/{s.pk}/"


def sign(client: Client, url: str, data: dict[str, str], **extra: Any) -> Any:
    """Answers the way a customer does: the form's POST shows the review step, whose confirming
    POST records the answer. A refused first POST (bad input, a bad link) is returned as is."""
    review = client.post(url, data, **extra)
    nonce = review.context.get("review") if review.status_code == 200 and review.context else None
    if not nonce:
        return review
    confirm = {"step": "confirm", "review": nonce}
    if "csrfmiddlewaretoken" in data:
        confirm["csrfmiddlewaretoken"] = data["csrfmiddlewaretoken"]
    return client.post(url, confirm, **extra)


def landed(path: str, client: Client | None = None) -> Client:
    """A browser that opened the emailed link (and followed nothing yet)."""
    client = client or Client()
    response = client.get(path)
    assert response.status_code == 302, response.status_code
    return client


def world(mailoutbox: list[Any]) -> dict[str, Any]:
    """Everything a customer page could change, to compare before and after."""
    return {
        "stages": list(Stage.objects.order_by("pk").values_list("pk", "state", "signed_off_at", "changes_reason")),
        "links": list(
            CustomerLink.objects.order_by("pk").values_list(
                "pk", "used_at", "revoked_at", "renewal_requested_at", "expires_at"
            )
        ),
        "signoffs": SignOff.objects.count(),
        "notices": list(Notice.objects.order_by("pk").values_list("pk", "state")),
        "events": Activity.objects.count(),
        "emails": len(mailoutbox),
    }


def assert_customer_headers(response: Any) -> None:
    cache = response.get("Cache-Control", "")
    assert "no-store" in cache, (response.status_code, cache)
    assert response.get("Referrer-Policy") in ("no-referrer", "same-origin"), (
        response.status_code, response.get("Referrer-Policy"),
    )


def body(response: Any) -> str:
    return response.content.decode()


@pytest.fixture
def owner(project: Any) -> Any:
    """The delivery owner, who owns the account once the handover is accepted."""
    return project.owner


@pytest.fixture
def signoff_link(project: Any, owner: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any) -> tuple[CustomerLink, str]:
    link, path = request_signoff(project, 1, owner, mailoutbox, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    return link, path


@pytest.fixture
def portal_link(project: Any, owner: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any) -> tuple[CustomerLink, str]:
    link, path = issue_portal(project, owner, mailoutbox, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    return link, path


def expire(link: CustomerLink) -> None:
    now = timezone.now()
    CustomerLink.objects.filter(pk=link.pk).update(created_at=now - timedelta(days=20), expires_at=now - timedelta(seconds=1))


