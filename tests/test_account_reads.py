"""The account fetch, the roles and the account page's reads: plain querysets that give what
the models' default querysets give, in a fixed number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import permissions, roles, selectors
from crm.models import Account, AccountTeamMember
from tests.conftest import client_for
from tests.test_touchpoints_views import fill_every_part_of_the_page


@pytest.fixture
def full_account(project: Any, rep: Any, rep2: Any, delivery: Any, salesmgr: Any, account: Account) -> Account:
    """A customer with something in every part of its page."""
    fill_every_part_of_the_page(account, rep=rep, rep2=rep2, delivery=delivery, salesmgr=salesmgr)
    return account


def test_the_account_page_reads_what_the_default_querysets_give(full_account: Account, other_account: Account) -> None:
    """Each of the account page's lists against the account's related rows in their models'
    default order, on an account where each finds rows, then on another account."""
    for account in (full_account, other_account):
        page = selectors.account_page(account=account)
        assert page.contacts == list(account.contacts.all())
        assert page.deals == list(account.deals.order_by("-created_at", "-pk"))
        assert [d.item_count for d in page.deals] == [  # type: ignore[attr-defined]
            d.n for d in account.deals.annotate(n=Count("line_items")).order_by("-created_at", "-pk")
        ]
        members = list(account.team.order_by("role", "-started_at"))
        assert page.team == [m for m in members if m.ended_at is None]
        assert page.past_team == [m for m in members if m.ended_at is not None]
        assert page.ownership == list(account.ownership_changes.all()[:50])
        assert page.timeline == list(account.activities.timeline()[: selectors.TIMELINE_PAGE])
        if account == full_account:
            assert page.contacts and page.deals and page.team and page.ownership and page.timeline


def test_the_account_pages_contacts_and_deals_know_their_account_without_a_query(
    full_account: Account, django_assert_num_queries: Any
) -> None:
    page = selectors.account_page(account=full_account)
    with django_assert_num_queries(0):
        assert all(row.account is full_account for row in (*page.contacts, *page.deals))


def test_the_account_page_reads_in_five_queries_whatever_the_history(
    full_account: Account, other_account: Account
) -> None:
    """Contacts, deals, team, ledger and timeline: one query each, on a full account as on a bare one."""
    for account in (full_account, other_account):
        with CaptureQueriesContext(connection) as queries:
            selectors.account_page(account=account)
        assert len(queries) == 5


def test_an_id_out_of_range_answers_404(salesmgr: Any, rep: Any) -> None:
    for user in (salesmgr, rep):  # get_account_for's two cases: every account, or the user's teams
        assert client_for(user).get(reverse("crm:account_detail", args=[2**63])).status_code == 404
        assert client_for(user).get(reverse("crm:account_detail", args=[2**70])).status_code == 404


def test_get_account_for_sees_what_visible_to_sees(
    account: Account, other_account: Account, rep: Any, rep2: Any, presales: Any, salesmgr: Any, deliverymgr: Any,
    delivery: Any, admin_user: Any, outsider: Any,
) -> None:
    """The account fetch against `Account.objects.visible_to`, for every role."""
    for user in (rep, rep2, presales, salesmgr, deliverymgr, delivery, admin_user, outsider):
        for target in (account, other_account):
            visible = Account.objects.visible_to(user).filter(pk=target.pk).exists()
            try:
                found = permissions.get_account_for(user, target.pk)
            except Exception as exc:  # noqa: BLE001 - Http404 is the only answer allowed
                assert type(exc).__name__ == "Http404" and not visible, (user, target)
            else:
                assert visible and found == target and found.owner == target.owner, (user, target)


def test_an_ended_team_membership_hides_the_account_again(account: Account, presales: Any) -> None:
    assert permissions.get_account_for(presales, account.pk) == account
    AccountTeamMember.objects.filter(account=account, user=presales).update(ended_at=timezone.now())
    del presales._keepwarm_roles
    with pytest.raises(Exception, match="Not found"):
        permissions.get_account_for(presales, account.pk)


def test_role_names_come_from_the_groups(rep: Any, salesmgr: Any, outsider: Any) -> None:
    for user in (rep, salesmgr, outsider):
        assert roles.role_names(user) == set(user.groups.values_list("name", flat=True))
