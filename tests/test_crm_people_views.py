"""crm's people pages, the sign-in pages and the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from crm import services
from crm.admin import KeepwarmUserChangeForm
from crm.models import Account, Deal, UserProfile
from tests.scenarios import client_for
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


# --- People ---------------------------------------------------------------------------------


def test_the_people_list_links_to_deactivation(salesmgr: User, rep: User, account: Account) -> None:
    response = client_for(salesmgr).get(url("user_list"))
    assert response.status_code == 200
    assert url("user_deactivate", rep.pk).encode() in response.content


def test_deactivating_an_owner_asks_for_a_successor(salesmgr: User, rep: User, account: Account) -> None:
    client = client_for(salesmgr)
    assert b"Name a successor" in client.get(url("user_deactivate", rep.pk)).content
    response = client.post(url("user_deactivate", rep.pk), {"successor": ""})
    assert response.status_code == 200
    assert "still owns 1 account" in str(response.context["form"].errors["successor"])
    rep.refresh_from_db()
    assert rep.is_active


def test_deactivating_with_a_successor_moves_the_book_and_ends_sessions(
    salesmgr: User, rep: User, rep2: User, account: Account,
) -> None:
    rep_client = Client()
    rep_client.post(reverse("login"), {"username": "rep", "password": "keepwarm-test-pw"})
    assert rep_client.get(url("account_list")).status_code == 200
    response = client_for(salesmgr).post(url("user_deactivate", rep.pk), {"successor": rep2.pk, "note": "Bye"})
    assert response.status_code == 302
    rep.refresh_from_db()
    account.refresh_from_db()
    assert not rep.is_active and account.owner == rep2
    assert rep_client.get(url("account_list")).status_code == 302  # their session has ended


def test_deactivating_an_inactive_user_is_a_conflict(salesmgr: User, delivery: User) -> None:
    client = client_for(salesmgr)
    assert client.post(url("user_deactivate", delivery.pk)).status_code == 302
    response = client.post(url("user_deactivate", delivery.pk), follow=True)
    assert b"already inactive" in response.content


def test_a_user_updates_their_profile(rep: User, salesmgr: User) -> None:
    response = client_for(rep).post(
        url("profile"),
        {"phone": "+33 1 23 45 67 89", "time_zone": "Europe/Paris", "work_starts": "08:30", "work_ends": "17:30"},
    )
    assert response.status_code == 302
    profile = UserProfile.objects.get(user=rep)
    assert (profile.phone, profile.time_zone) == ("+33 1 23 45 67 89", "Europe/Paris")


def test_posting_a_manager_to_my_profile_changes_nothing(rep: User, rep2: User, salesmgr: User) -> None:
    services.profile_update(user=rep, by=User.objects.create_superuser("root", "root@vendor.example", "pw"),
                            manager=salesmgr)
    response = client_for(rep).post(
        url("profile"),
        {"time_zone": "Europe/Paris", "work_starts": "08:30", "work_ends": "17:30", "manager": rep2.pk},
    )
    assert response.status_code == 302
    profile = UserProfile.objects.get(user=rep)
    assert (profile.time_zone, profile.manager) == ("Europe/Paris", salesmgr)
    page = client_for(rep).get(url("profile")).content.decode()
    assert 'name="manager"' not in page
    assert "Salesmgr" in page and "set by an administrator" in page


def test_only_an_administrator_sets_a_reporting_line_through_the_service(rep: User, salesmgr: User) -> None:
    with pytest.raises(PermissionDenied):
        services.profile_update(user=rep, by=rep, manager=salesmgr)
    assert UserProfile.objects.get(user=rep).manager is None


def test_an_administrator_sets_the_reporting_line_in_the_admin(rep: User, salesmgr: User) -> None:
    root = User.objects.create_superuser("root", "root@vendor.example", "pw")
    profile = UserProfile.objects.get(user=rep)
    change = reverse("admin:crm_userprofile_change", args=[profile.pk])
    response = client_for(root).post(change, {
        "phone": "", "time_zone": "UTC", "work_starts": "09:00", "work_ends": "17:00", "manager": salesmgr.pk,
    })
    assert response.status_code == 302, response.content
    assert UserProfile.objects.get(user=rep).manager == salesmgr


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"time_zone": "Mars/Olympus", "work_starts": "09:00", "work_ends": "17:00"}, "time_zone"),
        ({"time_zone": "UTC", "work_starts": "18:00", "work_ends": "09:00"}, "work_ends"),
        ({"time_zone": "UTC", "work_starts": "25:00", "work_ends": "09:00"}, "work_starts"),
    ],
)
def test_bad_profile_input_names_the_field(rep: User, data: dict, field: str) -> None:
    response = client_for(rep).post(url("profile"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert UserProfile.objects.get(user=rep).time_zone == "UTC"


# --- Auth pages -----------------------------------------------------------------------------


def test_the_login_page_logs_in_and_logout_is_a_post(rep: User) -> None:
    client = Client()
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "rep", "password": "keepwarm-test-pw"})
    assert response.status_code == 302 and response["Location"] == url("account_list")
    page = client.get(url("account_list")).content.decode()
    assert f'action="{reverse("logout")}"' in page and 'method="post"' in page
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(url("account_list")).status_code == 302


def test_repeated_failures_show_the_lockout_page_with_429(rep: User) -> None:
    client = Client()
    for _ in range(5):
        client.post(reverse("login"), {"username": "rep", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "rep", "password": "keepwarm-test-pw"})
    assert response.status_code == 429
    assert b"Too many failed log-ins" in response.content


def test_the_password_change_pages_render(rep: User) -> None:
    client = client_for(rep)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {"old_password": "keepwarm-test-pw", "new_password1": "a-Longer-new-pass-42", "new_password2": "a-Longer-new-pass-42"},
        follow=True,
    )
    assert b"Password changed" in response.content


def test_pages_carry_no_inline_script_or_style(rep: User, account: Account) -> None:
    body = client_for(rep).get(url("account_detail", account.pk)).content.decode()
    assert "<style" not in body and "style=" not in body
    assert "<script>" not in body and "onclick" not in body
    assert 'hx-headers=\'{"X-CSRFToken": "' in body


# --- Admin ----------------------------------------------------------------------------------


def test_the_user_admin_refuses_to_deactivate_an_owner(rep: User, account: Account) -> None:
    data = {"username": rep.username, "is_active": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    form = KeepwarmUserChangeForm(instance=rep, data=data)
    assert not form.is_valid()
    assert "deactivate page" in str(form.errors["is_active"])
    assert url("user_deactivate", rep.pk) in str(form.errors["is_active"])


def test_the_admin_pages_render_for_a_superuser(account: Account, deal: Deal) -> None:
    root = User.objects.create_superuser("root", "root@vendor.example", "pw")
    client = client_for(root)
    for model in ("account", "contact", "deal", "ownershipchange", "activity", "accountteammember", "userprofile"):
        assert client.get(reverse(f"admin:crm_{model}_changelist")).status_code == 200, model
    assert client.get(reverse("admin:crm_deal_change", args=[deal.pk])).status_code == 200
    assert client.get(reverse("admin:auth_user_change", args=[account.owner_id])).status_code == 200
