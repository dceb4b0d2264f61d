"""Customer links keep their token safe: it leaves the URL on arrival, a GET changes nothing, and
the pages send headers that keep it out of referrers and caches."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from customer_links import services as links
from customer_links.models import CustomerLink
from customer_links.pages import SESSION_KEY
from delivery.models import Stage
from tests.scenarios import (
    SIGNED_OFF,
    assert_customer_headers,
    body,
    landed,
    raw_of,
    request_signoff,
    sign,
    signoff_url,
    stage,
)
from tests.scenarios import signoff_world as world

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
