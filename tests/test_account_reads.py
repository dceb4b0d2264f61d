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
from tests.scenarios import client_for, fill_every_part_of_the_page


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


# --- The account page cache (crm.account_page_cache) -------------------------------------------


def shown(account: Account) -> Any:
    """What the account page shows of its cached rows, as plain values."""
    page = selectors.account_page(account=account)
    return (
        [(c.pk, c.full_name, c.is_active, c.is_primary) for c in page.contacts],
        [(d.pk, d.name, d.stage, d.item_count, d.owner.get_full_name()) for d in page.deals],  # type: ignore[attr-defined]
        [(m.pk, m.role, m.user.get_full_name()) for m in page.team],
        [m.pk for m in page.past_team],
        [(o.pk, o.to_user_id) for o in page.ownership],
    )


def fresh(account: Account) -> Any:
    """The same, read without the cache."""
    from django.core.cache import cache

    cache.clear()
    return shown(account)


def test_the_second_visit_reads_only_the_timeline(full_account: Account, django_assert_num_queries: Any) -> None:
    selectors.account_page(account=full_account)
    with django_assert_num_queries(1):  # the timeline, which every app's events add to
        page = selectors.account_page(account=full_account)
    assert page.contacts and page.deals and page.team and page.ownership
    assert all(row.account is full_account for row in (*page.contacts, *page.deals))


def test_each_write_of_what_the_page_shows_bumps_its_version(
    account: Account, other_account: Account, deal: Any, rep: Any, rep2: Any, salesmgr: Any, presales: Any,
    admin_user: Any,
) -> None:
    from crm import services
    from crm.models import Contact

    def write_then_check(write: Any) -> None:
        cached_before, other_before = shown(account), shown(other_account)
        write()
        after = shown(account)
        assert after == fresh(account) and after != cached_before, write
        assert shown(other_account) == other_before  # another account's entry is not touched

    write_then_check(lambda: services.contact_create(account=account, by=rep, first_name="Chloe", is_primary=True))
    write_then_check(lambda: services.contact_update(
        contact=Contact.objects.get(account=account, first_name="Alice"), by=rep, is_active=False))
    write_then_check(lambda: services.deal_create(account=account, by=rep, name="Second line", value="100"))
    write_then_check(lambda: services.deal_update(
        deal=deal, by=rep, line_items=[{"kind": "product", "name": "Arm", "quantity": 1, "unit_price": "5"}]))
    write_then_check(lambda: services.deal_move(deal=deal, by=rep, to="proposal"))
    write_then_check(lambda: services.team_member_add(account=account, by=rep, user=rep2, role="sales_rep"))
    write_then_check(lambda: services.team_member_end(
        member=AccountTeamMember.objects.current().get(account=account, user=presales), by=rep))
    write_then_check(lambda: services.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Moves."))


def test_a_persons_new_name_and_a_deactivation_show_on_every_account(
    account: Account, other_account: Account, rep: Any, rep2: Any, admin_user: Any
) -> None:
    from crm import services

    before = shown(account), shown(other_account)
    rep.first_name = "Renamed"
    rep.save()
    assert (shown(account), shown(other_account)) == (fresh(account), fresh(other_account)) != before
    assert "Renamed" in str(shown(account))
    services.team_member_add(account=other_account, by=rep2, user=rep, role="sales_rep")
    shown(other_account)
    services.user_deactivate(user=rep, by=admin_user, successor=rep2)
    assert (shown(account), shown(other_account)) == (fresh(account), fresh(other_account))
    assert rep.pk not in {m.user_id for m in selectors.account_page(account=other_account).team}


def test_a_login_does_not_bump_the_people_version(account: Account, rep: Any) -> None:
    from crm import account_page_cache

    key = account_page_cache.key_for(account.pk)
    client_for(rep)  # logs in: saves last_login only
    assert account_page_cache.key_for(account.pk) == key


def test_the_version_is_bumped_again_when_the_write_commits(
    account: Account, rep: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A page read by another request between the write and its commit saw the rows before the
    write: the commit's bump keeps it from being served under the version of the write."""
    from crm import account_page_cache, services

    before = account_page_cache.key_for(account.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.contact_create(account=account, by=rep, first_name="Chloe")
    during = account_page_cache.key_for(account.pk)
    assert during != before
    for callback in callbacks:
        callback()
    assert account_page_cache.key_for(account.pk) not in (before, during)


def test_an_evicted_version_never_finds_an_older_entry(account: Account) -> None:
    """A version that disappears from the cache (evicted) starts again from the clock, not from a
    number an old entry is still stored under."""
    from django.core.cache import cache

    from crm import account_page_cache
    from crm.models import Contact

    shown(account)
    cache.delete(f"crm:account-page-version:{account.pk}")
    Contact.objects.filter(account=account).update(title="Changed without a signal")
    assert {c.title for c in selectors.account_page(account=account).contacts} == {"Changed without a signal"}
    assert account_page_cache.key_for(account.pk) == account_page_cache.key_for(account.pk)


def test_without_a_working_cache_the_page_reads_afresh_and_writes_go_on(
    account: Account, rep: Any, monkeypatch: Any
) -> None:
    from django.core.cache import cache

    from crm import services

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("cache down")

    for name in ("get", "set", "get_many", "add", "incr"):
        monkeypatch.setattr(cache, name, broken)
    services.contact_create(account=account, by=rep, first_name="Chloe")  # bumps: logged, not raised
    assert "Chloe" in {c.first_name for c in selectors.account_page(account=account).contacts}
    assert client_for(rep).get(reverse("crm:account_detail", args=[account.pk])).status_code == 200
