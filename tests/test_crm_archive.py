"""Archiving and restoring accounts and contacts: hidden from lists by default, kept in history
(the page opens with an "Archived" banner and a Restore button), restorable; whoever may edit
the account; archiving leaves check-ups and customer links as they were."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from core.exceptions import Conflict
from crm import selectors, services
from crm.models import Account, Activity, Contact
from customer_links.models import CustomerLink
from flows import actions as flows
from tests.scenarios import client_for, crm_url
from touchpoints.models import Touchpoint

pytestmark = pytest.mark.django_db


def test_an_archived_account_leaves_the_list_and_comes_back_when_restored(account, rep):
    services.account_archive(account=account, by=rep)
    assert account not in selectors.account_list(user=rep)
    assert account in selectors.account_list(user=rep, archived=True)  # "Show archived"
    services.account_restore(account=account, by=rep)
    assert account in selectors.account_list(user=rep)


def test_archive_and_restore_are_on_the_timeline(account, rep):
    services.account_archive(account=account, by=rep)
    services.account_restore(account=account, by=rep)
    subjects = list(Activity.objects.filter(account=account, event_type__in=["account.archived", "account.restored"])
                    .order_by("pk").values_list("subject", flat=True))
    assert subjects == ["Account Acme Robotics archived", "Account Acme Robotics restored"]


def test_archiving_twice_or_restoring_a_live_account_is_refused(account, rep):
    with pytest.raises(Conflict):
        services.account_restore(account=account, by=rep)
    services.account_archive(account=account, by=rep)
    with pytest.raises(Conflict):
        services.account_archive(account=account, by=rep)


def test_someone_off_the_team_may_not_archive(account, delivery):
    with pytest.raises(PermissionDenied):
        services.account_archive(account=account, by=delivery)
    assert Account.objects.get(pk=account.pk).archived_at is None


def test_a_tombstone_cannot_be_restored(account, other_account, salesmgr):
    flows.account_merge(account=other_account, into=account, by=salesmgr)
    with pytest.raises(Conflict):
        services.account_restore(account=Account.objects.get(pk=other_account.pk), by=salesmgr)


def test_archiving_leaves_check_ups_and_links_alone(project, account, delivery, rep):
    from delivery import services as delivery_services

    delivery_services.portal_link_issue(account=account, by=delivery, contact=account.contacts.get(first_name="Alice"))
    scheduled = Touchpoint.objects.filter(account=account, state="scheduled").count()
    live = CustomerLink.objects.filter(account=account, revoked_at__isnull=True).count()
    services.account_archive(account=account, by=rep)
    assert Touchpoint.objects.filter(account=account, state="scheduled").count() == scheduled > 0
    assert CustomerLink.objects.filter(account=account, revoked_at__isnull=True).count() == live > 0


# --- Pages ------------------------------------------------------------------------------------


def test_the_archived_accounts_page_opens_with_a_banner_and_restore(account, rep):
    client = client_for(rep)
    response = client.post(crm_url("account_archive", account.pk))
    assert response.status_code == 302
    page = client.get(crm_url("account_detail", account.pk)).content.decode()
    assert 'id="archived-banner"' in page and 'id="restore-account"' in page
    assert 'id="archive-account"' not in page
    assert "Acme Robotics" not in client.get(crm_url("account_list")).content.decode()
    assert "Acme Robotics" in client.get(crm_url("account_list"), {"archived": "on"}).content.decode()
    assert client.post(crm_url("account_restore", account.pk)).status_code == 302
    assert Account.objects.get(pk=account.pk).archived_at is None


def test_archive_is_a_post(account, rep):
    assert client_for(rep).get(crm_url("account_archive", account.pk)).status_code == 405


def test_an_outsider_gets_404(account, rep2):
    """Whoever sees an account may edit it (its team and the managers): there is no 403 here."""
    assert client_for(rep2).post(crm_url("account_archive", account.pk)).status_code == 404
    assert client_for(rep2).post(crm_url("contact_archive", account.contacts.first().pk)).status_code == 404
    assert Account.objects.get(pk=account.pk).archived_at is None


def test_archiving_twice_from_the_page_says_so(account, rep):
    client = client_for(rep)
    client.post(crm_url("account_archive", account.pk))
    response = client.post(crm_url("account_archive", account.pk), follow=True)
    assert "already archived" in response.content.decode()


def test_an_archived_contact_leaves_the_list_and_can_be_restored(account, rep):
    alice = account.contacts.get(first_name="Alice")
    client = client_for(rep)
    assert client.post(crm_url("contact_archive", alice.pk)).status_code == 302
    alice.refresh_from_db()
    assert alice.archived_at is not None and not alice.is_primary
    assert alice not in Contact.objects.live()
    response = client.get(crm_url("account_detail", account.pk))
    assert alice.pk not in [c.pk for c in response.context["page"].contacts]
    assert [c.pk for c in response.context["page"].archived_contacts] == [alice.pk]
    assert 'id="archived-contacts"' in response.content.decode()
    assert client.post(crm_url("contact_restore", alice.pk)).status_code == 302
    assert Contact.objects.get(pk=alice.pk).archived_at is None
    assert Activity.objects.filter(account=account, event_type="contact.archived").count() == 1
    assert Activity.objects.filter(account=account, event_type="contact.restored").count() == 1
