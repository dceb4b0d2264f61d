""""Forgot password?" on the login page: request, email, new password, log in; and the same
answer for an address no account uses."""

from __future__ import annotations

import re

from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

NEW_PASSWORD = "a-new-Keepwarm-pw-42"


def _reset_link(message) -> str:
    match = re.search(r"https?://\S+/reset/\S+/", message.body)
    assert match, message.body
    return match.group(0)


def test_the_login_page_links_to_the_reset(db):
    response = Client().get(reverse("login"))
    assert f'href="{reverse("password_reset")}"'.encode() in response.content
    assert b"Forgot password?" in response.content


def test_the_reset_page_is_keepwarms_own(db):
    response = Client().get(reverse("password_reset"))
    assert response.status_code == 200
    assert "registration/password_reset_form.html" in [t.name for t in response.templates]
    assert b"Reset your password" in response.content and b'class="auth-box card"' in response.content
    assert b"Django administration" not in response.content


def test_a_user_resets_the_password_and_logs_in_with_the_new_one(rep, mailoutbox):
    rep.first_name, rep.last_name = "Rosa", "O'Neil & Sons"
    rep.save()
    client = Client()
    response = client.post(reverse("password_reset"), {"email": "rep@vendor.example"})
    assert response.status_code == 302 and response.headers["Location"] == reverse("password_reset_done")
    assert b"Check your email" in client.get(response.headers["Location"]).content

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["rep@vendor.example"]
    assert message.subject == "Reset your Keepwarm password" and "\n" not in message.subject
    # The text part is not HTML-escaped.
    assert "Hello Rosa O'Neil & Sons," in message.body and "&amp;" not in message.body and "&#x27;" not in message.body
    link = _reset_link(message)
    assert link.startswith(settings.SITE_URL + "/reset/")

    # The token moves to the session: the link redirects to a URL without it.
    landing = client.get(link[len(settings.SITE_URL):])
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/set-password/")
    form = client.get(landing.headers["Location"])
    assert form.status_code == 200 and b"Choose a new password" in form.content
    done = client.post(landing.headers["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == reverse("password_reset_complete")
    assert b"Your password is changed" in client.get(done.headers["Location"]).content

    fresh = Client()
    assert fresh.post(reverse("login"), {"username": "rep", "password": "keepwarm-test-pw"}).status_code == 200
    login = fresh.post(reverse("login"), {"username": "rep", "password": NEW_PASSWORD})
    assert login.status_code == 302 and login.headers["Location"] == reverse(settings.LOGIN_REDIRECT_URL)

    # The link works once.
    again = Client().get(link[len(settings.SITE_URL):], follow=True)
    assert b"This link doesn't work" in again.content


def test_an_unknown_address_gets_the_same_answer_and_no_email(rep, mailoutbox):
    known = Client().post(reverse("password_reset"), {"email": "rep@vendor.example"}, follow=True)
    unknown = Client().post(reverse("password_reset"), {"email": "nobody@vendor.example"}, follow=True)
    assert len(mailoutbox) == 1
    assert unknown.status_code == known.status_code == 200
    assert unknown.redirect_chain == known.redirect_chain
    assert _without_csrf(unknown.content) == _without_csrf(known.content)


def _without_csrf(content: bytes) -> bytes:
    """A page with its per-session CSRF token blanked (the only thing allowed to differ)."""
    return re.sub(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', rb"\1", content)


def test_an_inactive_user_gets_no_reset_email(rep, mailoutbox):
    rep.is_active = False
    rep.save()
    Client().post(reverse("password_reset"), {"email": "rep@vendor.example"})
    assert mailoutbox == []


@override_settings(SITE_URL="http://127.0.0.1:8123")
def test_the_link_follows_site_url_not_the_host_header(rep, mailoutbox):
    Client().post(reverse("password_reset"), {"email": "rep@vendor.example"}, HTTP_HOST="localhost")
    assert _reset_link(mailoutbox[0]).startswith("http://127.0.0.1:8123/reset/")
