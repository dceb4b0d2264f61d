"""crm.prepared: queries compiled once, then run with new values, give what the plain ORM gives."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection, connections
from django.db.models import DateTimeField
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import delivery.selectors
import touchpoints.selectors
from crm import permissions, roles, selectors
from crm.models import Account, Contact
from crm.prepared import Arg, PreparedQuery, id_arg
from customer_links.models import CustomerLink
from tests.scenarios import client_for, fill_every_part_of_the_page
from touchpoints.models import Touchpoint


def snapshot(row: Any, seen: frozenset[int] = frozenset()) -> Any:
    """A row as plain data: a model instance's loaded fields and its select_related objects
    (model instances compare equal by primary key alone), a values row as it is. A one-to-one
    caches its way back (the survey response's touchpoint): that is not followed again."""
    if not hasattr(row, "_state"):
        return row
    if id(row) in seen:
        return ("seen", type(row).__name__, row.pk)
    fields = {key: value for key, value in vars(row).items() if key != "_state"}
    related = {name: snapshot(obj, seen | {id(row)}) for name, obj in row._state.fields_cache.items()}
    return (type(row).__name__, fields, related)


@pytest.fixture
def full_account(project: Any, rep: Any, rep2: Any, delivery: Any, salesmgr: Any, account: Account) -> Account:
    """A customer with something in every part of its page."""
    fill_every_part_of_the_page(account, rep=rep, rep2=rep2, delivery=delivery, salesmgr=salesmgr)
    return account


def values_for(account: Account, user: Any) -> dict[str, Any]:
    return {
        "account": account.pk, "pk": account.pk, "user": user.pk,
        "since": timezone.now() - timedelta(days=60),
        "purpose": CustomerLink.Purpose.PORTAL, "target": CustomerLink.target_of(account),
    }


def test_every_prepared_query_gives_what_compiling_afresh_gives(full_account: Account, rep: Any, other_account: Account) -> None:
    """Each prepared query in the product (the account page's, the roles', the account fetch)
    against the same queryset built and compiled for the values, on an account where each finds
    rows, then on another account: the cached SQL takes the new values, not the first ones."""
    assert {delivery.selectors._LATEST_LINK, touchpoints.selectors._AGENDA, roles._GROUP_NAMES} < set(
        PreparedQuery.instances
    )
    assert len(PreparedQuery.instances) >= 12
    for prepared in PreparedQuery.instances:
        for account in (full_account, other_account):
            values = {name: values_for(account, rep)[name] for name in prepared.arg_names()}
            cached, fresh = prepared(**values), prepared.fresh(**values)
            assert [snapshot(r) for r in cached] == [snapshot(r) for r in fresh], prepared.build
            if account == full_account:
                assert cached, f"no rows to compare for {values}"


def test_a_prepared_query_compiles_once(full_account: Account, other_account: Account) -> None:
    prepared = PreparedQuery(lambda: Contact.objects.filter(account_id=id_arg("account")).order_by("pk"))
    PreparedQuery.instances.remove(prepared)  # made for this test only
    with mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql) as as_sql:
        first = prepared(account=full_account.pk)
        second = prepared(account=other_account.pk)
        assert prepared(account=full_account.pk) == first
    assert as_sql.call_count == 1
    assert {c.account_id for c in first} == {full_account.pk} and {c.account_id for c in second} == {other_account.pk}
    assert first == list(Contact.objects.filter(account=full_account).order_by("pk"))


def test_a_prepared_query_names_a_missing_or_unexpected_argument(account: Account) -> None:
    with pytest.raises(TypeError, match=r"missing \['account'\], unexpected \['acount'\]"):
        selectors._CONTACTS(acount=account.pk)


def test_an_id_out_of_range_is_refused_and_the_page_answers_404(salesmgr: Any, rep: Any) -> None:
    with pytest.raises(ValueError, match="out of range"):
        selectors._CONTACTS(account=2**63)
    for user in (salesmgr, rep):  # both of get_account_for's prepared queries
        assert client_for(user).get(reverse("crm:account_detail", args=[2**63])).status_code == 404
        assert client_for(user).get(reverse("crm:account_detail", args=[2**70])).status_code == 404


def test_a_datetime_argument_is_prepared_as_its_field_prepares_it(full_account: Account) -> None:
    """The agenda's `since`: touchpoints done before it drop out, as the plain filter does."""
    prepared = PreparedQuery(
        lambda: Touchpoint.objects.filter(account_id=id_arg("account"), due_at__gte=Arg("since", DateTimeField()))
        .order_by("pk").values_list("pk", flat=True)
    )
    PreparedQuery.instances.remove(prepared)
    for since in (timezone.now() - timedelta(days=400), timezone.now(), timezone.now() + timedelta(days=30)):
        expected = list(Touchpoint.objects.filter(account=full_account, due_at__gte=since).order_by("pk")
                        .values_list("pk", flat=True))
        assert prepared(account=full_account.pk, since=since) == expected


def test_get_account_for_sees_what_visible_to_sees(
    account: Account, other_account: Account, rep: Any, rep2: Any, presales: Any, salesmgr: Any, deliverymgr: Any,
    delivery: Any, admin_user: Any, outsider: Any,
) -> None:
    """The account fetch's two prepared cases against `Account.objects.visible_to`, for every role."""
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
    from crm.models import AccountTeamMember

    assert permissions.get_account_for(presales, account.pk) == account
    AccountTeamMember.objects.filter(account=account, user=presales).update(ended_at=timezone.now())
    del presales._keepwarm_roles
    with pytest.raises(Exception, match="Not found"):
        permissions.get_account_for(presales, account.pk)


def test_role_names_come_from_the_groups(rep: Any, salesmgr: Any, outsider: Any) -> None:
    for user in (rep, salesmgr, outsider):
        assert roles.role_names(user) == set(user.groups.values_list("name", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_prepared_query_runs_on_the_calling_threads_connection(rep: Any, account: Account) -> None:
    """Compiled on one thread, run on another (a threaded server): each uses its own connection."""
    expected = [snapshot(c) for c in selectors._CONTACTS(account=account.pk)]
    seen: list[Any] = []

    def other_thread() -> None:
        try:
            with CaptureQueriesContext(connections["default"]) as queries:
                seen.append([snapshot(c) for c in selectors._CONTACTS(account=account.pk)])
            seen.append(len(queries))
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen == [expected, 1]
    with CaptureQueriesContext(connection) as queries:
        selectors._CONTACTS(account=account.pk)
    assert len(queries) == 1
