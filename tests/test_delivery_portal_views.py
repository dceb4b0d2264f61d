"""The delivery staff pages for the customer portal link: sending, replacing and revoking it."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from crm import services as crm_services
from crm.models import Account, Activity
from customer_links.models import CustomerLink
from delivery.models import Project
from flows import actions as flows
from tests.scenarios import client_for, contact, errors
from tests.scenarios import delivery_url as url

pytestmark = pytest.mark.django_db


# --- The customer portal link ---------------------------------------------------------------


def test_sending_the_portal_link_emails_the_contact(
    project: Project, delivery: User, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    alice = contact(project.account, "Alice")
    back = url("project_detail", project.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(delivery).post(
            url("portal_link_send", project.account_id), {"contact": alice.pk, "next": back}
        )
    assert response.status_code == 302 and response["Location"] == back
    link = CustomerLink.objects.get(purpose="portal")
    assert link.contact == alice and link.emailed_at is not None and link.reusable
    assert [m.to for m in mailoutbox] == [["alice@acme.example"]] and "/c/portal/open/" in mailoutbox[0].body
    assert Activity.objects.filter(event_type="delivery.portal_link_sent").count() == 1
    html = client_for(delivery).get(back).content.decode()
    assert "Revoke the portal link" in html and "emailed to Alice Martin" in html


def test_the_portal_link_goes_only_back_to_our_own_pages(project: Project, delivery: User) -> None:
    alice = contact(project.account, "Alice")
    response = client_for(delivery).post(
        url("portal_link_send", project.account_id), {"contact": alice.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("crm:account_detail", args=[project.account_id])


@pytest.mark.parametrize("who", ["Greta", "unknown", ""])
def test_a_bad_portal_contact_names_the_field_and_sends_nothing(
    project: Project, delivery: User, other_account: Account, who: str, mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pk = {"Greta": contact(other_account, "Greta").pk, "unknown": 999999, "": ""}[who]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(delivery).post(url("portal_link_send", project.account_id), {"contact": pk})
    assert response.status_code == 400 and list(errors(response)) == ["contact"]
    assert 'id="id_contact_error"' in response.content.decode()
    assert not CustomerLink.objects.exists() and mailoutbox == []


def test_a_contact_who_asked_not_to_be_contacted_gets_no_portal_link(project: Project, delivery: User) -> None:
    alice = contact(project.account, "Alice")
    type(alice).objects.filter(pk=alice.pk).update(do_not_contact=True)
    response = client_for(delivery).post(url("portal_link_send", project.account_id), {"contact": alice.pk})
    assert response.status_code == 400 and "contact" in errors(response)
    assert not CustomerLink.objects.exists()


def test_the_portal_link_is_offered_to_the_same_reachable_contacts_on_the_account_and_project_pages(
    project: Project, rep: User, delivery: User
) -> None:
    """The account page passes the contacts it has read (crm's account_page_sections signal);
    the project page reads them: the same choices, primary first, then by name."""
    account = project.account
    for first, extra in (("bob", {"email": "bob@acme.example"}),
                         ("Carla", {"email": "carla@acme.example", "is_primary": True}),
                         ("Nomail", {}), ("Quiet", {"email": "q@acme.example", "do_not_contact": True}),
                         ("Gone", {"email": "gone@acme.example"})):
        crm_services.contact_create(account=account, by=rep, first_name=first, last_name="X", **extra)
    flows.contact_update(contact=contact(account, "Gone"), by=rep, is_active=False, left_at=date(2026, 1, 5))
    client = client_for(delivery)
    pages = (reverse("crm:account_detail", args=[account.pk]), url("project_detail", project.pk))
    offered = []
    for page in pages:
        html = client.get(page).content.decode()
        select = html.split('name="contact"', 1)[1].split("</select>", 1)[0]
        offered.append([label.split(" ", 1)[0] for label in re.findall(r"<option value=\"\d+\"[^>]*>([^<]+)<", select)])
    assert offered[0] == offered[1] == ["Carla", "Alice", "bob", "Bruno"]


def test_revoking_the_portal_link(project: Project, delivery: User, rep2: User) -> None:
    alice = contact(project.account, "Alice")
    client = client_for(delivery)
    client.post(url("portal_link_send", project.account_id), {"contact": alice.pk})
    assert client_for(rep2).post(url("portal_link_revoke", project.account_id)).status_code == 404
    assert CustomerLink.objects.get(purpose="portal").revoked_at is None
    assert client.get(url("portal_link_revoke", project.account_id)).status_code == 405
    response = client.post(url("portal_link_revoke", project.account_id), follow=True)
    assert "Portal link revoked" in response.content.decode()
    assert CustomerLink.objects.get(purpose="portal").revoked_at is not None
    assert Activity.objects.filter(event_type="delivery.portal_link_revoked").count() == 1
    again = client.post(url("portal_link_revoke", project.account_id), follow=True)
    assert "no live portal link" in again.content.decode()


def test_the_portal_link_is_404_for_outsiders(project: Project, rep2: User, outsider: User) -> None:
    alice = contact(project.account, "Alice")
    for user in (rep2, outsider):
        assert client_for(user).post(url("portal_link_send", project.account_id), {"contact": alice.pk}).status_code == 404
    assert not CustomerLink.objects.exists()
