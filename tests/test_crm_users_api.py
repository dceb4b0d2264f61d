"""crm's REST API for people: the users list, token auth with login throttling, deactivation,
the reporting line, sessions, the schema and the serializers' rules (reliability.md 1-5, 29)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.models import (
    Account,
    OwnershipChange,
    UserProfile,
)
from flows import actions as flows
from tests.scenarios import API, _ids, _results, api_for

# --- Users, tokens, deactivation ------------------------------------------------------------


def test_any_signed_in_user_lists_active_vendor_people_with_roles(rep, rep2, salesmgr, delivery):
    rep2.is_active = False
    rep2.save()
    User.objects.create_user("norole", password="x")
    rows = _results(api_for(delivery).get(f"{API}/users/"))
    by_name = {r["username"]: r for r in rows}
    assert set(by_name) == {"rep", "salesmgr", "delivery"}
    assert by_name["salesmgr"]["roles"] == ["Sales manager"]


def test_the_users_list_filters_by_role(rep, salesmgr, admin_user):
    rows = _results(api_for(rep).get(f"{API}/users/", {"role": "Sales manager"}))
    assert [r["username"] for r in rows] == ["salesmgr"]


def test_the_api_answers_401_without_credentials(account):
    response = APIClient().get(f"{API}/accounts/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def _token(client: APIClient, username: str, password: str, **extra: Any) -> Any:
    return client.post(f"{API}/auth/token/", {"username": username, "password": password}, format="json", **extra)


def test_a_token_authenticates_api_requests(account, rep):
    response = _token(APIClient(), "rep", "keepwarm-test-pw")
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert Token.objects.get(user=rep).key == token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert _ids(client.get(f"{API}/accounts/")) == {account.pk}


def test_a_token_can_be_asked_for_with_a_form_post_as_curl_d_sends_it(rep):
    response = APIClient().post(f"{API}/auth/token/", "username=rep&password=keepwarm-test-pw",
                                content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200, response.content
    assert Token.objects.get(user=rep).key == response.json()["token"]

def test_a_wrong_password_answers_400_without_a_token(rep):
    response = _token(APIClient(), "rep", "wrong")
    assert response.status_code == 400 and "non_field_errors" in response.json()
    assert not Token.objects.exists()
    assert AccessAttempt.objects.get(username="rep").failures_since_start == 1


def test_an_inactive_user_gets_no_token(rep):
    rep.is_active = False
    rep.save()
    assert _token(APIClient(), "rep", "keepwarm-test-pw").status_code == 400


def test_after_repeated_failures_even_the_right_password_answers_429(rep, settings):
    client = APIClient()
    answers = [_token(client, "rep", f"guess-{i}").status_code for i in range(settings.AXES_FAILURE_LIMIT)]
    # The failure that reaches the limit already locks the door.
    assert answers == [400] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    response = _token(client, "rep", "keepwarm-test-pw")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    assert not Token.objects.exists()


def test_a_spoofed_forwarded_for_header_does_not_reset_the_lockout(rep, settings):
    client = APIClient()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _token(client, "rep", f"guess-{i}", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    response = _token(client, "rep", "keepwarm-test-pw", HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert response.status_code == 429
    assert not Token.objects.exists()
    # Every failure was counted against the real address, not the header's.
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_one_usernames_lockout_does_not_hold_for_another_username_from_the_same_address(rep, rep2, settings):
    client = APIClient()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _token(client, "rep", f"guess-{i}")
    response = _token(client, "rep", "keepwarm-test-pw")
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Logging in as rep is paused until")
    assert 0 < int(response["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()
    assert _token(client, "rep2", "keepwarm-test-pw").status_code == 200


def test_the_address_lockout_holds_for_every_username_from_that_address(rep, rep2, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "1000/min"}}
    client = APIClient()
    for i in range(settings.AXES_ADDRESS_FAILURE_LIMIT):
        _token(client, f"guess{i}", "wrong")
    response = _token(client, "rep2", "keepwarm-test-pw")
    assert response.status_code == 429
    assert "network address is paused" in response.json()["detail"]
    assert response["Retry-After"].isdigit()
    assert not Token.objects.exists()


def test_deactivating_a_user_revokes_their_tokens_and_hands_over_their_book(
    account, deal, rep, rep2, salesmgr, django_capture_on_commit_callbacks,
):
    token = _token(APIClient(), "rep", "keepwarm-test-pw").json()["token"]
    rep_client = APIClient()
    rep_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert rep_client.get(f"{API}/accounts/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(salesmgr).post(
            f"{API}/users/{rep.pk}/deactivate/", {"successor": rep2.pk, "note": "Left the company"}, format="json",
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_active"] is False and body["reassignment"]["applied"] is True
    assert rep_client.get(f"{API}/accounts/").status_code == 401
    assert not Token.objects.filter(user=rep).exists()
    assert Account.objects.get(pk=account.pk).owner == rep2
    assert OwnershipChange.objects.filter(account=account, reason="departure").count() == 1


def test_deactivating_an_owner_without_a_successor_answers_400(account, rep, salesmgr):
    response = api_for(salesmgr).post(f"{API}/users/{rep.pk}/deactivate/", {}, format="json")
    assert response.status_code == 400 and "successor" in response.json()
    assert User.objects.get(pk=rep.pk).is_active


def test_deactivating_an_inactive_user_answers_409(outsider, salesmgr):
    flows.user_deactivate(user=outsider, by=salesmgr)
    response = api_for(salesmgr).post(f"{API}/users/{outsider.pk}/deactivate/", {}, format="json")
    assert response.status_code == 409


def test_a_rep_cannot_deactivate_anyone(rep, rep2):
    response = api_for(rep).post(f"{API}/users/{rep2.pk}/deactivate/", {}, format="json")
    assert response.status_code == 403
    assert User.objects.get(pk=rep2.pk).is_active


def test_deactivating_an_unknown_user_answers_404(salesmgr):
    assert api_for(salesmgr).post(f"{API}/users/999999/deactivate/", {}, format="json").status_code == 404


# --- Sessions, schema, code rules -----------------------------------------------------------


def test_session_authenticated_writes_need_the_csrf_token(account, rep):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.get(f"{API}/accounts/{account.pk}/").status_code == 200
    response = client.patch(f"{API}/accounts/{account.pk}/", '{"name": "x"}', content_type="application/json")
    assert response.status_code == 403
    assert Account.objects.get(pk=account.pk).name == "Acme Robotics"


def test_the_schema_validates_without_warnings(tmp_path):
    # What CI's `manage.py spectacular --validate --fail-on-warn` checks, kept in the suite.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/deals/{id}/win/" in target.read_text()


def test_the_schema_and_docs_are_served_without_a_cdn(rep):
    client = Client()
    client.force_login(rep)
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.content.decode())
    assert assets and all(url.startswith("/static/") for url in assets), assets


def test_the_schema_and_docs_are_refused_to_anonymous_users(db):
    assert Client().get("/api/schema/").status_code in (401, 403)
    docs = Client().get("/api/docs/")
    assert docs.status_code == 302
    assert docs["Location"].startswith("/login/?next=/api/docs/")


def test_the_schema_is_served_to_a_token_holder(rep):
    # What scripts/api_fuzz.sh does: schemathesis fetches the schema with the token header.
    token, _ = Token.objects.get_or_create(user=rep)
    response = Client().get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert b"/api/v1/deals/" in response.content


# --- The reporting line (administrators only) ------------------------------------------------


def test_an_administrator_sets_who_a_user_reports_to(rep, salesmgr, admin_user):
    response = api_for(admin_user).put(f"{API}/users/{rep.pk}/manager/", {"manager": salesmgr.pk}, format="json")
    assert response.status_code == 200
    assert response.json() == {"id": rep.pk, "username": "rep", "manager": salesmgr.pk}
    assert UserProfile.objects.get(user=rep).manager == salesmgr
    response = api_for(admin_user).put(f"{API}/users/{rep.pk}/manager/", {"manager": None}, format="json")
    assert response.status_code == 200
    assert UserProfile.objects.get(user=rep).manager is None


@pytest.mark.parametrize("who", ["rep", "salesmgr"])
def test_nobody_else_sets_a_reporting_line(request, rep, rep2, salesmgr, who):
    user = request.getfixturevalue(who)
    response = api_for(user).put(f"{API}/users/{rep.pk}/manager/", {"manager": rep2.pk}, format="json")
    assert response.status_code == 403
    assert UserProfile.objects.get(user=rep).manager is None


def test_a_bad_reporting_line_names_the_field(rep, admin_user):
    for body in ({"manager": rep.pk}, {"manager": 999999}, {}):
        response = api_for(admin_user).put(f"{API}/users/{rep.pk}/manager/", body, format="json")
        assert response.status_code == 400, body
        assert "manager" in response.json(), body
    assert UserProfile.objects.get(user=rep).manager is None


def test_no_serializer_exposes_all_model_fields():
    source = (Path(__file__).resolve().parent.parent / "crm" / "api" / "serializers.py").read_text()
    assert not re.search(r"fields\s*=\s*[\"']__all__[\"']", source)


def test_serializers_never_save_on_their_own(account, rep):
    from crm.api.serializers import AccountSerializer

    serializer = AccountSerializer(account, data={"name": "Bypass"}, partial=True)
    assert serializer.is_valid()
    with pytest.raises(NotImplementedError):
        serializer.save()
    assert Account.objects.get(pk=account.pk).name == "Acme Robotics"
