"""crm's contact and team pages on an account."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from crm.models import Account, AccountTeamMember, Activity, Contact
from tests.scenarios import client_for
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


# --- Contacts and team ----------------------------------------------------------------------


def test_a_rep_adds_a_contact(rep: User, account: Account) -> None:
    response = client_for(rep).post(
        url("contact_create", account.pk),
        {"first_name": "Chloé", "last_name": "Roux", "role": "champion", "email": "chloe@acme.example",
         "preferred_channel": "phone", "is_active": "on"},
    )
    assert response.status_code == 302
    assert Contact.objects.filter(account=account, first_name="Chloé", preferred_channel="phone").exists()
    assert Activity.objects.filter(account=account, event_type="contact.added", subject__contains="Chloé").exists()


def test_a_malformed_contact_email_names_the_field(rep: User, account: Account) -> None:
    response = client_for(rep).post(
        url("contact_create", account.pk),
        {"first_name": "<script>alert(1)</script>", "email": "not-an-email", "role": "user", "preferred_channel": "email"},
    )
    assert "email" in response.context["form"].errors
    assert b"<script>alert(1)</script>" not in response.content  # escaped when shown back
    assert Contact.objects.filter(account=account).count() == 2


def test_editing_a_contact_marks_them_as_left(rep: User, account: Account) -> None:
    bruno = account.contacts.get(first_name="Bruno")
    response = client_for(rep).post(
        url("contact_edit", bruno.pk),
        {"first_name": "Bruno", "last_name": "Petit", "role": "technical", "preferred_channel": "email", "left_at": "2026-01-31"},
    )
    assert response.status_code == 302
    bruno.refresh_from_db()
    assert not bruno.is_active and str(bruno.left_at) == "2026-01-31"


def test_mark_as_left_is_one_post(rep: User, account: Account) -> None:
    alice = account.contacts.get(first_name="Alice")
    response = client_for(rep).post(url("contact_left", alice.pk))
    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active and alice.left_at is not None and not alice.is_primary
    assert Activity.objects.filter(account=account, subject__contains="left the organisation").exists()


def test_the_owner_adds_and_ends_a_team_member(rep: User, rep2: User, account: Account) -> None:
    client = client_for(rep)
    assert client.post(url("team_add", account.pk), {"user": rep2.pk, "role": "support"}).status_code == 302
    member = AccountTeamMember.objects.get(account=account, user=rep2)
    assert client.post(url("team_end", member.pk)).status_code == 302
    member.refresh_from_db()
    assert member.ended_at is not None
    assert Activity.objects.filter(account=account, event_type="account.team_changed").count() == 2


def test_adding_someone_twice_names_the_person_field(rep: User, presales: User, account: Account) -> None:
    response = client_for(rep).post(url("team_add", account.pk), {"user": presales.pk, "role": "presales"})
    assert response.status_code == 200
    assert "already has that role" in str(response.context["form"].errors["user"])


def test_ending_a_membership_twice_says_so(rep: User, account: Account) -> None:
    member = AccountTeamMember.objects.get(account=account, role="presales")
    client = client_for(rep)
    client.post(url("team_end", member.pk))
    response = client.post(url("team_end", member.pk), follow=True)
    assert b"already left the account team" in response.content
