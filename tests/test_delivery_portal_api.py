"""The delivery API for customer portal links: issuing, replacing and revoking them."""

from __future__ import annotations

import pytest

from crm.models import Activity, Contact
from customer_links.models import CustomerLink
from delivery import services
from tests.scenarios import API, _raw_token, alice, api_for

# --- Customer portal links ----------------------------------------------------------------------


def test_the_account_team_sends_and_revokes_a_portal_link(
    project, rep, mailoutbox, django_capture_on_commit_callbacks
):
    body = {"account": project.account_id, "contact": alice(project).pk}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(rep).post(f"{API}/portal-links/", body, format="json")
    assert response.status_code == 201, response.content
    link = CustomerLink.objects.get(purpose="portal")
    data = response.json()
    assert (data["id"], data["account"], data["contact"], data["revoked_at"]) == (
        link.pk, project.account_id, alice(project).pk, None,
    )
    assert data["expires_at"] and [m.to for m in mailoutbox] == [["alice@acme.example"]]
    raw = _raw_token(mailoutbox, "/c/portal/open/")
    assert raw not in response.content.decode() and link.token_hash not in response.content.decode()
    assert "token" not in response.content.decode()
    assert Activity.objects.filter(event_type="delivery.portal_link_sent").count() == 1
    revoked = api_for(rep).post(f"{API}/portal-links/revoke/", {"account": project.account_id}, format="json")
    assert revoked.status_code == 200 and revoked.json() == {"revoked": 1}
    assert CustomerLink.objects.get(pk=link.pk).revoked_at is not None
    assert Activity.objects.filter(event_type="delivery.portal_link_revoked").count() == 1
    again = api_for(rep).post(f"{API}/portal-links/revoke/", {"account": project.account_id}, format="json")
    assert again.json() == {"revoked": 0}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"contact": "theirs"}, "contact"),
        ({"contact": "left"}, "contact"),
        ({"contact": "do_not_contact"}, "contact"),
        ({"contact": 999999}, "contact"),
        ({"contact": None}, "contact"),
        ({"account": "theirs"}, "account"),
        ({"account": "x"}, "account"),
    ],
)
def test_bad_portal_links_answer_400_naming_the_field_and_send_nothing(
    project, rep, other_account, payload, field, mailoutbox, django_capture_on_commit_callbacks
):
    body = {"account": project.account_id, "contact": alice(project).pk, **payload}
    if body["contact"] == "theirs":
        body["contact"] = other_account.contacts.get().pk
    if body["account"] == "theirs":
        body["account"] = other_account.pk
    if body["contact"] in ("left", "do_not_contact"):
        bruno = project.account.contacts.get(first_name="Bruno")
        Contact.objects.filter(pk=bruno.pk).update(**{"is_active": False} if body["contact"] == "left"
                                                   else {"do_not_contact": True})
        body["contact"] = bruno.pk
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(rep).post(f"{API}/portal-links/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not CustomerLink.objects.exists() and mailoutbox == []


def test_another_reps_account_gets_no_portal_link_or_revocation(project, rep, rep2):
    services.portal_link_issue(account=project.account, by=rep, contact=alice(project))
    response = api_for(rep2).post(f"{API}/portal-links/revoke/", {"account": project.account_id}, format="json")
    assert response.status_code == 400 and "account" in response.json()
    assert CustomerLink.objects.get().revoked_at is None
