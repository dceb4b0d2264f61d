"""Log in, log out, password change, login throttling (reliability.md 8) and deactivation
ending every session and token (reliability.md 9), through the real pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.models import LoginSession
from flows import actions as flows

PASSWORD = "keepwarm-test-pw"  # tests.conftest.make_user's password


def log_in(client: Client, username: str, password: str, **extra: str):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


# --- Log in and log out ---------------------------------------------------------------------


def test_the_login_page_shows_a_form(db):
    response = Client().get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content


def test_logging_in_opens_my_accounts_and_records_the_session(rep):
    client = Client()
    response = log_in(client, "rep", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
    assert client.get(reverse("crm:account_list")).status_code == 200
    assert LoginSession.objects.filter(user=rep, session_key=client.session.session_key).exists()


def test_a_wrong_password_shows_the_form_again_with_an_error(rep):
    client = Client()
    response = log_in(client, "rep", "not-the-password")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert b"correct username and password" in response.content


def test_an_inactive_user_cannot_log_in(rep):
    rep.is_active = False
    rep.save()
    client = Client()
    assert log_in(client, "rep", PASSWORD).status_code == 200
    assert "_auth_user_id" not in client.session


def test_pages_send_anonymous_visitors_to_the_login_page(db):
    response = Client().get(reverse("crm:account_list"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))


def test_logging_out_ends_the_session(rep):
    client = Client()
    log_in(client, "rep", PASSWORD)
    key = client.session.session_key
    response = client.post(reverse("logout"))
    assert response.status_code in (200, 302)
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(reverse("crm:account_list")).status_code == 302


def test_logging_out_needs_a_post(rep):
    client = Client()
    client.force_login(rep)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get(reverse("crm:account_list")).status_code == 200


def test_logging_out_is_protected_by_csrf(rep):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.post(reverse("logout")).status_code == 403
    assert client.get(reverse("crm:account_list")).status_code == 200


# --- Password change ------------------------------------------------------------------------


def test_changing_my_password_needs_the_old_one_and_then_the_new_one_works(rep):
    client = Client()
    client.force_login(rep)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "a-much-longer-secret-42", "new_password2": "a-much-longer-secret-42"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("password_change_done")
    assert client.get(reverse("password_change_done")).status_code == 200
    rep.refresh_from_db()
    assert rep.check_password("a-much-longer-secret-42")


def test_a_wrong_old_password_changes_nothing(rep):
    client = Client()
    client.force_login(rep)
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "a-much-longer-secret-42", "new_password2": "a-much-longer-secret-42"},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    rep.refresh_from_db()
    assert rep.check_password(PASSWORD)


def test_a_weak_new_password_is_refused(rep):
    client = Client()
    client.force_login(rep)
    response = client.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": "12345", "new_password2": "12345"},
    )
    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors
    rep.refresh_from_db()
    assert rep.check_password(PASSWORD)


def test_anonymous_visitors_cannot_open_the_password_change_page(db):
    response = Client().get(reverse("password_change"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))


# --- Throttling (django-axes) ---------------------------------------------------------------


def fail(client: Client, times: int, username: str = "rep", **extra: str) -> None:
    """Wrong passwords; the one that reaches the limit is itself answered 429."""
    for _ in range(times):
        assert log_in(client, username, "wrong-password", **extra).status_code in (200, 429)


def test_after_five_failures_even_the_right_password_is_refused_with_429(rep):
    client = Client()
    fail(client, settings.AXES_FAILURE_LIMIT)
    response = log_in(client, "rep", PASSWORD)
    assert response.status_code == 429
    assert b"Too many" in response.content
    assert "_auth_user_id" not in client.session


def test_four_failures_do_not_lock_and_the_right_password_works(rep):
    client = Client()
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, "rep", PASSWORD).status_code == 302


def test_a_spoofed_x_forwarded_for_does_not_reset_the_lock(rep):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "rep", "wrong-password", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = log_in(client, "rep", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_follows_the_username_across_client_addresses(rep):
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(Client(REMOTE_ADDR=f"192.0.2.{n}"), "rep", "wrong-password")
    assert log_in(Client(REMOTE_ADDR="192.0.2.200"), "rep", PASSWORD).status_code == 429


def test_the_lock_is_a_cool_off_not_a_permanent_ban(rep):
    client = Client()
    fail(client, settings.AXES_FAILURE_LIMIT)
    assert log_in(client, "rep", PASSWORD).status_code == 429
    # The cool-off passes.
    long_ago = AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
    AccessAttempt.objects.update(attempt_time=long_ago)
    assert log_in(client, "rep", PASSWORD).status_code == 302


def test_another_users_login_is_not_locked_by_someone_elses_failures_from_elsewhere(rep, rep2):
    fail(Client(REMOTE_ADDR="192.0.2.10"), settings.AXES_FAILURE_LIMIT, username="rep")
    assert log_in(Client(REMOTE_ADDR="192.0.2.11"), "rep2", PASSWORD).status_code == 302


def test_one_users_failures_do_not_lock_another_user_behind_the_same_address(rep, rep2):
    client = Client(REMOTE_ADDR="192.0.2.10")
    fail(client, settings.AXES_FAILURE_LIMIT, username="rep")
    assert log_in(client, "rep", PASSWORD).status_code == 429
    assert log_in(Client(REMOTE_ADDR="192.0.2.10"), "rep2", PASSWORD).status_code == 302


def test_the_address_limit_is_higher_than_the_username_limit(rep, rep2):
    assert settings.AXES_ADDRESS_FAILURE_LIMIT > settings.AXES_FAILURE_LIMIT


def test_many_failures_from_one_address_pause_that_address_for_everybody(rep, rep2):
    # One client trying many usernames, none of them reaching its own limit.
    client = Client(REMOTE_ADDR="192.0.2.10")
    for n in range(settings.AXES_ADDRESS_FAILURE_LIMIT):
        assert log_in(client, f"guess{n}", "wrong-password").status_code in (200, 429)
    response = log_in(Client(REMOTE_ADDR="192.0.2.10"), "rep2", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "from this network address is paused" in page
    assert "rep2" not in page  # rep2 never failed: their account is not what is paused
    # From elsewhere rep2 logs in as usual.
    assert log_in(Client(REMOTE_ADDR="192.0.2.11"), "rep2", PASSWORD).status_code == 302


def test_the_lockout_page_names_the_paused_username_and_until_when(rep):
    client = Client()
    fail(client, settings.AXES_FAILURE_LIMIT)
    response = log_in(client, "rep", PASSWORD)
    until = AccessAttempt.objects.get().attempt_time + settings.AXES_COOLOFF_TIME
    page = response.content.decode()
    assert "logging in as <strong>rep</strong> is paused until" in page
    assert timezone.localtime(until).strftime("%H:%M") in page
    assert "network address" not in page


def test_the_lockout_sends_retry_after_with_the_seconds_left(rep):
    client = Client()
    fail(client, settings.AXES_FAILURE_LIMIT)
    # Five minutes of the cool-off have passed.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=5))
    response = log_in(client, "rep", PASSWORD)
    assert response.status_code == 429
    left = (settings.AXES_COOLOFF_TIME - timedelta(minutes=5)).total_seconds()
    assert left - 5 <= int(response["Retry-After"]) <= left


# --- Deactivation ends access (reliability.md 9) --------------------------------------------


@pytest.fixture
def outsider_logged_in(outsider):
    client = Client()
    assert log_in(client, "outsider", PASSWORD).status_code == 302
    return client


def test_deactivating_a_user_ends_their_sessions(outsider, outsider_logged_in, admin_user):
    second = Client()
    second.force_login(outsider)
    keys = [outsider_logged_in.session.session_key, second.session.session_key]

    flows.user_deactivate(user=outsider, by=admin_user)

    assert not Session.objects.filter(session_key__in=keys).exists()
    assert not LoginSession.objects.filter(user=outsider).exists()
    for client in (outsider_logged_in, second):
        response = client.get(reverse("crm:account_list"))
        assert response.status_code == 302 and response.headers["Location"].startswith(reverse("login"))


def test_deactivating_a_user_revokes_their_api_tokens(outsider, admin_user):
    token = Token.objects.create(user=outsider)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/").status_code == 200

    flows.user_deactivate(user=outsider, by=admin_user)

    assert not Token.objects.filter(user=outsider).exists()
    response = api.get("/api/v1/")
    # 403 rather than 401: session authentication comes first and sends no WWW-Authenticate.
    assert response.status_code in (401, 403)
    assert "Invalid token" in str(response.json())


def test_deactivating_through_a_plain_save_also_ends_sessions(outsider, outsider_logged_in):
    # The admin's "active" checkbox saves the user directly; the receiver still ends access.
    key = outsider_logged_in.session.session_key
    outsider.is_active = False
    outsider.save()
    assert not Session.objects.filter(session_key=key).exists()
    assert outsider_logged_in.get(reverse("crm:account_list")).status_code == 302
