"""Tampered, expired, used and revoked customer links answer alike and reveal nothing, and the
customer can ask for a new link."""

from __future__ import annotations

import pytest
from django.test import Client

from crm.models import Account
from customer_links.models import CustomerLink
from customer_links.pages import SESSION_KEY
from delivery.models import SignOff, Stage
from tests.scenarios import (
    SIGNED_OFF,
    assert_customer_headers,
    body,
    expire,
    landed,
    raw_of,
    request_signoff,
    sign,
    signoff_url,
    stage,
    tampered,
)
from tests.scenarios import signoff_world as world

# --- Bad links -----------------------------------------------------------------------------------


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
