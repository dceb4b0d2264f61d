"""The customer's pages (sign-off and portal) through the browser's eyes: Django's test Client, no
login, only the link from the email (reliability.md 6, 7, 10-14, 19, 25)."""

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


# --- Helpers -------------------------------------------------------------------------------------


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


# --- The token leaves the URL ------------------------------------------------------------------


def test_the_emailed_signoff_link_moves_to_the_session_and_redirects_to_a_clean_url(project, signoff_link):
    link, path = signoff_link
    raw = raw_of(path)
    client = Client()

    response = client.get(path, follow=True)

    first = stage(project, 1)
    assert response.redirect_chain == [(signoff_url(first), 302)]
    assert response.status_code == 200 and "Please review: Kickoff" in body(response)
    assert raw not in body(response) and raw not in response.request["PATH_INFO"]
    assert client.session[SESSION_KEY] == [link.pk]
    assert raw not in str(dict(client.session.items()))
    # Later pages (the answer, the answered page) never carry it either.
    answer = sign(client, signoff_url(first), SIGNED_OFF, follow=True)
    assert answer.redirect_chain == [(signoff_url(first), 302)]
    for url, _status in answer.redirect_chain:
        assert raw not in url
    assert raw not in body(answer) and "is signed off" in body(answer)


def test_the_landing_redirect_never_carries_the_token(signoff_link):
    _link, path = signoff_link
    response = Client().get(path)
    assert response.status_code == 302 and raw_of(path) not in response["Location"]
    assert response["Location"].startswith("/c/signoff/")


def test_the_emailed_portal_link_moves_to_the_session_and_redirects_to_a_clean_url(project, portal_link):
    link, path = portal_link
    raw = raw_of(path)
    client = Client()

    response = client.get(path, follow=True)

    assert response.redirect_chain == [(f"/c/portal/{project.account_id}/", 302)]
    assert response.status_code == 200 and project.account.name in body(response)
    assert raw not in body(response) and raw not in response.redirect_chain[0][0]
    assert client.session[SESSION_KEY] == [link.pk]


def test_links_are_stored_hashed_never_raw(signoff_link, portal_link):
    for link, path in (signoff_link, portal_link):
        raw = raw_of(path)
        assert len(raw) >= 43  # 32 random bytes, urlsafe base64: 256 bits
        row = CustomerLink.objects.filter(pk=link.pk).values().get()
        assert row["token_hash"] == links.token_hash(raw)
        assert not any(raw in str(value) for value in row.values())
        assert not CustomerLink.objects.filter(token_hash=raw).exists()


# --- GET changes nothing -------------------------------------------------------------------------


def test_opening_the_signoff_link_again_and_again_changes_nothing(project, signoff_link, mailoutbox):
    _link, path = signoff_link
    before = world(mailoutbox)
    client = Client()
    for _ in range(3):
        assert client.get(path).status_code == 302
        assert client.get(signoff_url(stage(project, 1))).status_code == 200
        assert Client().get(path).status_code == 302  # a mail scanner: a fresh browser each time
    assert world(mailoutbox) == before
    assert stage(project, 1).state == Stage.State.AWAITING_SIGNOFF


def test_opening_the_portal_again_and_again_changes_nothing(project, portal_link, signoff_link, mailoutbox):
    _link, path = portal_link
    before = world(mailoutbox)
    client = Client()
    for _ in range(3):
        assert client.get(path, follow=True).status_code == 200
    assert world(mailoutbox) == before


# --- Headers -------------------------------------------------------------------------------------


def test_every_customer_page_is_never_cached_and_sends_no_referrer(
    project, owner, signoff_link, portal_link, mailoutbox, django_capture_on_commit_callbacks
):
    link, path = signoff_link
    url = signoff_url(stage(project, 1))
    client = Client()
    responses = {
        "landing": client.get(path),
        "sign-off page": client.get(url),
        "missing name": client.post(url, {"decision": "sign_off", "typed_name": ""}),
        "invalid link": Client().get("/c/signoff/open/not-a-real-token/"),
        "no link in session": Client().get(url),
        "portal landing": client.get(portal_link[1]),
        "portal": client.get(f"/c/portal/{project.account_id}/"),
        "wrong purpose": Client().get(portal_link[1].replace("/c/portal/", "/c/signoff/")),
    }
    responses["answer"] = sign(client, url, SIGNED_OFF)
    responses["answered page"] = client.get(url)
    responses["answered again"] = sign(client, url, SIGNED_OFF)
    expected = {
        "landing": 302, "sign-off page": 200, "missing name": 400, "invalid link": 404, "no link in session": 404,
        "portal landing": 302, "portal": 200, "wrong purpose": 400, "answer": 302, "answered page": 200,
        "answered again": 409,
    }
    # An expired link's page, and the renewal request from it.
    second, second_path = request_signoff(project, 2, owner, mailoutbox, django_capture_on_commit_callbacks,
                                          contact_name="Bruno")
    CustomerLink.objects.filter(pk=second.pk).update(
        created_at=timezone.now() - timedelta(days=20), expires_at=timezone.now() - timedelta(days=1)
    )
    landed(second_path, client)
    responses["expired"] = client.get(signoff_url(stage(project, 2)))
    responses["renewal"] = client.post(f"/c/renew/{second.pk}/")
    expected |= {"expired": 410, "renewal": 200}
    for name, response in responses.items():
        assert response.status_code == expected[name], (name, response.status_code)
        assert_customer_headers(response)
        assert response["Referrer-Policy"] == "same-origin", name  # no-referrer breaks the POST's CSRF check


# --- Bad links -----------------------------------------------------------------------------------


def tampered(raw: str) -> dict[str, str]:
    flipped = raw[:10] + ("A" if raw[10] != "A" else "B") + raw[11:]
    return {
        "one character changed": flipped,
        "truncated": raw[:-3],
        "random": secrets.token_urlsafe(32),
        "oversize": raw + "x" * 5000,
    }


@pytest.mark.parametrize("kind", ["one character changed", "truncated", "random", "oversize"])
def test_a_tampered_signoff_link_shows_a_clear_page_and_changes_nothing(kind, project, signoff_link, mailoutbox):
    _link, path = signoff_link
    bad = tampered(raw_of(path))[kind]
    before = world(mailoutbox)
    client = Client()

    response = client.get(f"/c/signoff/open/{bad}/")

    assert response.status_code == 404 and "This link doesn&#x27;t work" in body(response)
    assert_customer_headers(response)
    assert SESSION_KEY not in client.session
    assert "Ask for a new link" not in body(response)
    # And the stage's page cannot be reached or signed without a link.
    url = signoff_url(stage(project, 1))
    assert client.get(url).status_code == 404
    assert sign(client, url, SIGNED_OFF).status_code == 404
    assert world(mailoutbox) == before


@pytest.mark.parametrize("kind", ["one character changed", "truncated", "random", "oversize"])
def test_a_tampered_portal_link_shows_a_clear_page(kind, project, portal_link, mailoutbox):
    bad = tampered(raw_of(portal_link[1]))[kind]
    before = world(mailoutbox)
    client = Client()
    response = client.get(f"/c/portal/open/{bad}/")
    assert response.status_code == 404 and "This link doesn&#x27;t work" in body(response)
    assert client.get(f"/c/portal/{project.account_id}/").status_code == 404
    assert world(mailoutbox) == before


def expire(link: CustomerLink) -> None:
    now = timezone.now()
    CustomerLink.objects.filter(pk=link.pk).update(created_at=now - timedelta(days=20), expires_at=now - timedelta(seconds=1))


def renewal_form(link: CustomerLink) -> str:
    return f'action="/c/renew/{link.pk}/"'


def test_an_expired_signoff_link_says_so_offers_renewal_and_signs_nothing(project, signoff_link, mailoutbox):
    link, path = signoff_link
    expire(link)
    before = world(mailoutbox)
    client = landed(path)
    url = signoff_url(stage(project, 1))

    page = client.get(url)
    post = sign(client, url, SIGNED_OFF)

    for response in (page, post):
        assert response.status_code == 410 and "This link has expired" in body(response)
        assert renewal_form(link) in body(response)
        assert_customer_headers(response)
    assert world(mailoutbox) == before


def test_a_revoked_signoff_link_says_it_was_replaced_and_the_new_one_works(
    project, owner, signoff_link, mailoutbox, django_capture_on_commit_callbacks
):
    old, old_path = signoff_link
    new, new_path = request_signoff(project, 1, owner, mailoutbox, django_capture_on_commit_callbacks)
    before = world(mailoutbox)
    client = landed(old_path)
    url = signoff_url(stage(project, 1))

    page = client.get(url)
    post = sign(client, url, SIGNED_OFF)

    for response in (page, post):
        assert response.status_code == 410 and "This link is no longer valid" in body(response)
        assert renewal_form(old) in body(response)
        assert_customer_headers(response)
    assert world(mailoutbox) == before
    # The newer link, opened in the same browser, is the one that counts.
    landed(new_path, client)
    assert sign(client, url, SIGNED_OFF).status_code == 302
    assert SignOff.objects.get().link_id == new.pk


def test_a_used_link_shows_already_signed_off_and_changes_nothing(project, signoff_link, mailoutbox):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    assert sign(client, url, SIGNED_OFF).status_code == 302
    before = world(mailoutbox)

    reopened = landed(path)  # the email opened again, in another browser
    page = reopened.get(url)
    post = sign(reopened, url, {**SIGNED_OFF, "typed_name": "Mallory"})

    assert page.status_code == 200 and "is signed off" in body(page)
    assert post.status_code == 409 and "already signed off" in body(post)
    assert "Ask for a new link" not in body(post)
    assert world(mailoutbox) == before
    assert SignOff.objects.get().typed_name == "Alice Martin"


def test_a_portal_link_does_not_open_the_signoff_page_nor_the_reverse(project, signoff_link, portal_link, mailoutbox):
    before = world(mailoutbox)
    for path, other in ((portal_link[1], "/c/signoff/open/"), (signoff_link[1], "/c/portal/open/")):
        client = Client()
        response = client.get(other + raw_of(path) + "/")
        assert response.status_code == 400 and "This link is for something else" in body(response)
        assert_customer_headers(response)
        assert SESSION_KEY not in client.session
    # A browser holding only the portal link cannot sign; one holding only the sign-off link
    # cannot see the portal.
    portal_browser = landed(portal_link[1])
    url = signoff_url(stage(project, 1))
    assert portal_browser.get(url).status_code == 404
    assert sign(portal_browser, url, SIGNED_OFF).status_code == 404
    signoff_browser = landed(signoff_link[1])
    assert signoff_browser.get(f"/c/portal/{project.account_id}/").status_code == 404
    assert world(mailoutbox) == before


def test_a_link_for_one_stage_cannot_open_or_sign_another(
    project, owner, signoff_link, mailoutbox, django_capture_on_commit_callbacks
):
    _first_link, path = signoff_link
    second_link, _second_path = request_signoff(
        project, 2, owner, mailoutbox, django_capture_on_commit_callbacks, contact_name="Bruno"
    )
    mailoutbox.clear()
    before = world(mailoutbox)
    client = landed(path)  # holds the link for stage 1 only
    url = signoff_url(stage(project, 2))

    page = client.get(url)
    post = sign(client, url, {**SIGNED_OFF, "typed_name": "Bruno Petit"})

    for response in (page, post):
        assert response.status_code == 403 and "This link is for a different item" in body(response)
        assert "Ask for a new link" in body(response)
        assert_customer_headers(response)
    assert world(mailoutbox) == before
    assert stage(project, 2).state == Stage.State.AWAITING_SIGNOFF
    assert CustomerLink.objects.get(pk=second_link.pk).used_at is None
    # A stage that does not exist looks the same as one the link is not for.
    assert client.get("/c/signoff/999999/").status_code == 403


def test_a_link_for_one_account_portal_cannot_open_another(project, portal_link, other_account, mailoutbox):
    client = landed(portal_link[1])
    response = client.get(f"/c/portal/{other_account.pk}/")
    assert response.status_code == 403 and other_account.name not in body(response)


# --- Asking for a new link -----------------------------------------------------------------------


def test_an_expired_link_asks_the_account_owner_for_a_new_one_once(
    project, owner, signoff_link, mailoutbox, django_capture_on_commit_callbacks
):
    link, path = signoff_link
    expire(link)
    client = landed(path)
    before_stage = stage(project, 1).state

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"/c/renew/{link.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(f"/c/renew/{link.pk}/")

    assert first.status_code == 200 and "asked for a new link" in body(first)
    assert second.status_code == 200
    assert len(mailoutbox) == 1
    [message] = mailoutbox
    assert message.to == [Account.objects.get(pk=project.account_id).owner.email] == [owner.email]
    assert "Alice Martin" in message.subject and project.account.name in message.subject
    assert raw_of(path) not in message.body
    link.refresh_from_db()
    assert link.renewal_requested_at is not None and link.used_at is None
    assert stage(project, 1).state == before_stage
    assert SignOff.objects.count() == 0


def test_a_revoked_and_a_wrong_stage_link_can_ask_for_a_new_one(
    project, owner, signoff_link, mailoutbox, django_capture_on_commit_callbacks
):
    old, old_path = signoff_link
    request_signoff(project, 1, owner, mailoutbox, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    client = landed(old_path)
    assert renewal_form(old) in body(client.get(signoff_url(stage(project, 1))))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/c/renew/{old.pk}/").status_code == 200
    assert [m.to for m in mailoutbox] == [[owner.email]]
    # A browser holding a link for stage 1 that opens stage 2's page is offered the same.
    second, second_path = request_signoff(
        project, 2, owner, mailoutbox, django_capture_on_commit_callbacks, contact_name="Bruno"
    )
    mailoutbox.clear()
    client = landed(second_path)
    page = client.get(signoff_url(stage(project, 1)))
    assert page.status_code == 403 and renewal_form(second) in body(page)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/c/renew/{second.pk}/").status_code == 200
    assert [m.to for m in mailoutbox] == [[owner.email]]


def test_only_a_link_this_browser_holds_can_ask_for_renewal(project, signoff_link, mailoutbox, django_capture_on_commit_callbacks):
    link, _path = signoff_link
    expire(link)
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(f"/c/renew/{link.pk}/")
    assert response.status_code == 404 and mailoutbox == []
    assert CustomerLink.objects.get(pk=link.pk).renewal_requested_at is None
    assert Client().get(f"/c/renew/{link.pk}/").status_code == 405


# --- Signing off ---------------------------------------------------------------------------------


def test_the_customer_signs_off_once_with_name_ip_and_user_agent(
    project, owner, signoff_link, mailoutbox, django_capture_on_commit_callbacks
):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))

    with django_capture_on_commit_callbacks(execute=True):
        response = sign(
            client, url, {**SIGNED_OFF, "typed_name": "  Alice Martin "}, REMOTE_ADDR="198.51.100.23",
            HTTP_USER_AGENT="Mozilla/5.0 (Customer laptop)",
        )
    with django_capture_on_commit_callbacks(execute=True):
        again = sign(client, url, SIGNED_OFF)

    assert response.status_code == 302 and response["Location"] == url
    signoff = SignOff.objects.get()
    assert (signoff.typed_name, signoff.ip_address, signoff.user_agent, signoff.decision) == (
        "Alice Martin", "198.51.100.23", "Mozilla/5.0 (Customer laptop)", "signed_off"
    )
    assert signoff.link_id == link.pk and signoff.contact.first_name == "Alice"
    s = stage(project, 1)
    assert s.state == Stage.State.SIGNED_OFF and s.signed_off_at is not None
    assert CustomerLink.objects.get(pk=link.pk).used_at is not None
    event = Activity.objects.get(event_type="delivery.stage.signed_off")
    assert event.actor is None and "customer via link" in event.actor_label and event.ip_address == "198.51.100.23"
    assert again.status_code == 409 and "already signed off" in body(again)
    assert SignOff.objects.count() == 1
    assert Activity.objects.filter(event_type="delivery.stage.signed_off").count() == 1
    assert [m.to for m in mailoutbox] == [[owner.email]]


def test_asking_for_changes_needs_a_reason(project, signoff_link, mailoutbox):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    before = world(mailoutbox)

    response = client.post(url, {"typed_name": "Alice Martin", "decision": "request_changes", "reason": "   "})

    assert response.status_code == 400 and "nothing was saved" in body(response)
    # The message sits in the reason field, which is marked, and the typed name is kept.
    text = body(response)
    reason_field = text[text.index('<label for="id_reason">'):text.index('class="form-actions"')]
    assert "Say what needs to change." in reason_field
    assert '<div class="field has-error">\n      <label for="id_reason">' in text
    assert 'value="Alice Martin"' in text
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
    # The link still works.
    response = sign(
        client, url, {"typed_name": "Alice Martin", "decision": "request_changes", "reason": "The training dates are wrong."}
    )
    assert response.status_code == 302
    s = stage(project, 1)
    assert s.state == Stage.State.CHANGES_REQUESTED and s.changes_reason == "The training dates are wrong."
    answered = client.get(url)
    assert answered.status_code == 200 and "received your change request" in body(answered)


def test_a_missing_name_signs_nothing(project, signoff_link, mailoutbox):
    _link, path = signoff_link
    client = landed(path)
    before = world(mailoutbox)
    response = client.post(signoff_url(stage(project, 1)), {"typed_name": "", "decision": "sign_off"})
    assert response.status_code == 400 and "Type your full name to sign." in body(response)
    assert world(mailoutbox) == before


def test_an_unknown_decision_signs_nothing(project, signoff_link, mailoutbox):
    _link, path = signoff_link
    client = landed(path)
    before = world(mailoutbox)
    url = signoff_url(stage(project, 1))
    for data in ({"typed_name": "Alice Martin", "reason": "x"}, {"typed_name": "Alice Martin", "decision": "maybe"}):
        response = client.post(url, data)
        assert response.status_code == 400 and "Choose to sign off or to ask for changes." in body(response)
    assert world(mailoutbox) == before


def test_a_csrf_token_is_required_to_sign(project, signoff_link, mailoutbox):
    _link, path = signoff_link
    client = Client(enforce_csrf_checks=True)
    url = signoff_url(stage(project, 1))
    assert client.get(path).status_code == 302
    before = world(mailoutbox)

    refused = sign(client, url, SIGNED_OFF)

    assert refused.status_code == 403
    assert world(mailoutbox) == before
    page = client.get(url)
    assert page.status_code == 200
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = sign(client, url, {**SIGNED_OFF, "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert SignOff.objects.count() == 1


def test_a_csrf_token_is_required_to_ask_for_renewal(project, signoff_link, mailoutbox):
    link, path = signoff_link
    expire(link)
    client = Client(enforce_csrf_checks=True)
    client.get(path)
    assert client.post(f"/c/renew/{link.pk}/").status_code == 403
    assert CustomerLink.objects.get(pk=link.pk).renewal_requested_at is None


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


# --- The signature: whose name, and a review before the irreversible POST -----------------------


def test_a_signature_ignores_case_spacing_and_accents_only():
    assert services.signature_key("anna  MÜLLER") == services.signature_key("Anna Müller")
    assert services.signature_key(" Ånna\tMuller ") == services.signature_key("Anna Müller")
    assert services.signature_key("Anna Miller") != services.signature_key("Anna Müller")
    assert services.signature_key("Bob") != services.signature_key("Anna Müller")


def test_the_typed_name_matching_the_signer_with_other_case_spacing_and_accents_signs(
    project, owner, mailoutbox, django_capture_on_commit_callbacks,
):
    alice = project.account.contacts.get(first_name="Alice")
    type(alice).objects.filter(pk=alice.pk).update(first_name="Anna", last_name="Müller")
    _link, path = request_signoff(project, 1, owner, mailoutbox, django_capture_on_commit_callbacks, contact_name="Anna")
    client = landed(path)
    url = signoff_url(stage(project, 1))

    response = sign(client, url, {"typed_name": "anna  MÜLLER", "decision": "sign_off"})

    assert response.status_code == 302
    signoff = SignOff.objects.get()
    assert (signoff.typed_name, signoff.on_behalf_name, signoff.on_behalf_role) == ("anna MÜLLER", "", "")  # stored as one line
    assert stage(project, 1).state == Stage.State.SIGNED_OFF


def test_a_name_that_is_not_the_signers_is_refused_naming_the_field(project, signoff_link, mailoutbox):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    before = world(mailoutbox)

    response = client.post(url, {"typed_name": "Bob", "decision": "sign_off"})

    assert response.status_code == 400
    text = body(response)
    name_field = text[text.index('<label for="id_typed_name">'):text.index('name="on_behalf"')]
    assert "Type the name of the person asked to sign, Alice Martin" in name_field
    assert "You are about to sign off" not in text
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
    # The service refuses it too, whoever calls it.
    with pytest.raises(ValidationError) as refused:
        flows.customer_answer(link=link, signed_off=True, typed_name="Bob", ip=None, user_agent="")
    assert set(refused.value.message_dict) == {"typed_name"}
    assert world(mailoutbox) == before


def test_the_form_post_only_shows_the_review_and_records_nothing(project, signoff_link, mailoutbox):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    before = world(mailoutbox)

    review = client.post(url, SIGNED_OFF)

    assert review.status_code == 200
    assert "You are about to sign off <strong>Kickoff</strong> as <strong>Alice Martin</strong>; this cannot be undone." in body(review)
    assert 'name="step" value="confirm"' in body(review)
    assert_customer_headers(review)
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
    # Going back (a GET) changes nothing and shows the answer again to change it.
    back = client.get(url)
    assert back.status_code == 200 and 'value="Alice Martin"' in body(back)
    assert world(mailoutbox) == before
    # Confirming records it, once.
    confirmed = client.post(url, {"step": "confirm", "review": review.context["review"]})
    assert confirmed.status_code == 302
    assert SignOff.objects.get().typed_name == "Alice Martin"
    assert CustomerLink.objects.get(pk=link.pk).used_at is not None


@pytest.mark.parametrize("confirm", [
    {"step": "confirm"},
    {"step": "confirm", "review": "guessed"},
    {"step": "confirm", "review": "", **SIGNED_OFF},
])
def test_a_final_post_without_its_review_signs_nothing(project, signoff_link, mailoutbox, confirm):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    if confirm.get("review") == "guessed":
        client.post(url, SIGNED_OFF)  # a review exists, but this POST does not carry its nonce
    before = world(mailoutbox)

    response = client.post(url, confirm)

    assert response.status_code == 400
    assert "Check your answer first: nothing was recorded." in body(response)
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None


def test_the_confirmed_answer_is_the_reviewed_one(project, signoff_link, mailoutbox):
    _link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    review = client.post(url, SIGNED_OFF)
    # Fields slipped into the confirming POST are not what was reviewed: they are ignored.
    confirmed = client.post(url, {
        "step": "confirm", "review": review.context["review"], "typed_name": "Mallory",
        "decision": "request_changes", "reason": "x",
    })
    assert confirmed.status_code == 302
    signoff = SignOff.objects.get()
    assert (signoff.typed_name, signoff.decision) == ("Alice Martin", "signed_off")


def test_someone_answering_on_the_signers_behalf_gives_their_name_and_role(
    project, owner, signoff_link, mailoutbox, django_capture_on_commit_callbacks, rep,
):
    _link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    data = {"typed_name": "Bob Stone", "decision": "sign_off", "on_behalf": "yes", "on_behalf_role": "Operations lead"}

    review = client.post(url, data)
    assert review.status_code == 200
    assert "as <strong>Bob Stone</strong>, Operations lead, on behalf of Alice Martin; this cannot be undone." in body(review)
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(url, {"step": "confirm", "review": review.context["review"]})

    assert confirmed.status_code == 302
    signoff = SignOff.objects.get()
    assert (signoff.typed_name, signoff.on_behalf_name, signoff.on_behalf_role) == (
        "Bob Stone", "Bob Stone", "Operations lead",
    )
    assert signoff.contact.first_name == "Alice"
    # The delivery owner's email says so.
    [email] = mailoutbox
    assert "ON BEHALF: Bob Stone (Operations lead) answered on behalf of Alice Martin" in email.body
    # So do the timeline and the project page.
    event = Activity.objects.get(event_type="delivery.stage.signed_off")
    assert "on behalf of Alice Martin" in event.subject and event.data["on_behalf_role"] == "Operations lead"
    staff = Client()
    staff.force_login(owner)
    page = staff.get(f"/deliveries/{project.pk}/")
    assert page.status_code == 200, page.status_code
    assert "On behalf" in body(page) and "Operations lead, answering for Alice Martin" in body(page)


def test_answering_on_behalf_needs_a_role(project, signoff_link, mailoutbox):
    link, path = signoff_link
    client = landed(path)
    before = world(mailoutbox)
    response = client.post(
        signoff_url(stage(project, 1)), {"typed_name": "Bob Stone", "decision": "sign_off", "on_behalf": "yes"},
    )
    assert response.status_code == 400
    text = body(response)
    assert "Say in what role you answer for Alice Martin." in text[text.index('name="on_behalf"'):]
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
