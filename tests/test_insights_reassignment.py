"""The reassignment dashboard's figures on the hand-built history (tests/insights_world.py):
accounts per owner, orphans, single-threaded customers and ownership changes."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm import services as crm
from crm.models import Account
from flows import actions as flows
from insights import selectors
from insights.selectors import Period
from tests.insights_world import END, START, World, now, world_for
from tests.scenarios import client_for

# Its fixed dates come after its fixtures only if the fixtures are made before them (tests.conftest).
pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")
QUERY = f"start={START.isoformat()}&end={END.isoformat()}"


PERIOD = Period(start=START, end=END)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    return world_for(request)


def test_reassignment_counts_orphans_until_the_departure_is_handled(world):
    with now():
        before = selectors.reassignment(period=PERIOD, team=None, viewer=world.salesmgr)
    assert [(o.name, o.is_active, o.accounts) for o in before.owners] == [
        ("Delivery", True, 2), ("Leaver", False, 1), ("Rep", True, 1),
    ]
    assert before.orphan_count == 1 and [a.name for a in before.orphans] == ["Umbrella Corp"]
    assert [o.name for o in before.orphan_owners] == ["Leaver"]
    # Customers only (Umbrella is a prospect): Acme lost Bruno, Globex and Initech have one contact.
    assert before.single_threaded_count == 3
    assert [(a.name, a.contacts) for a in before.single_threaded] == [
        ("Acme Robotics", 1), ("Globex", 1), ("Initech", 1),
    ]
    # The same accounts as crm's own rule (insights restates it in a form PostgreSQL plans well).
    crm_rule = Account.objects.filter(lifecycle__in=selectors.CUSTOMER_LIFECYCLES).single_threaded()
    assert {a.account_id for a in before.single_threaded} == set(crm_rule.values_list("pk", flat=True))
    assert before.changes_by_reason == {"handover": 2, "territory": 1}
    assert [(c.account, c.from_user, c.to_user, c.reason) for c in before.changes] == [
        ("Initech", "Rep", "Delivery", "handover"),
        ("Globex", "Rep2", "Rep", "territory"),
        ("Acme Robotics", "Rep", "Delivery", "handover"),
    ]

    with now():
        flows.book_reassign(from_user=world.leaver, to_user=world.rep2, by=world.salesmgr)
        after = selectors.reassignment(period=PERIOD, team=None, viewer=world.salesmgr)
    assert after.orphan_count == 0 and after.orphans == [] and after.orphan_owners == []
    assert [(o.name, o.accounts) for o in after.owners] == [("Delivery", 2), ("Rep", 1), ("Rep2", 1)]
    assert after.changes_by_reason == {"departure": 1, "handover": 2, "territory": 1}
    assert after.changes[0].reason == "departure" and after.changes[0].from_user == "Leaver"


def test_reassignment_team_filter(world):
    with now():
        data = selectors.reassignment(period=PERIOD, team=world.salesmgr.pk, viewer=world.salesmgr)
    assert [(o.name, o.accounts) for o in data.owners] == [("Rep", 1)]
    assert data.changes_by_reason == {"handover": 2, "territory": 1}  # rep is on every change's side
    assert data.orphan_count == 0


def test_the_single_thread_rule_matches_crms(rep, rep2, presales, salesmgr, account, deal, other_account):
    """Acme: two contacts, owner and pre-sales on the team. Globex: one contact."""
    flows.deal_win(deal=deal, by=rep)
    crm.account_update(account=other_account, by=rep2, lifecycle="customer")

    def both() -> tuple[set[int], set[int]]:
        customers = Account.objects.filter(lifecycle__in=selectors.CUSTOMER_LIFECYCLES)
        return (set(customers.filter(selectors.single_threaded()).values_list("pk", flat=True)),
                set(customers.single_threaded().values_list("pk", flat=True)))

    assert both() == ({other_account.pk}, {other_account.pk})
    member = account.team.current().get(user=presales)
    crm.team_member_end(member=member, by=rep)  # only the owner left on our side
    assert both() == ({account.pk, other_account.pk}, {account.pk, other_account.pk})
    crm.team_member_add(account=account, by=rep, user=presales, role="presales")
    flows.contact_update(contact=account.contacts.get(first_name="Bruno"), by=rep, is_active=False,
                       left_at=timezone.localdate())
    assert both() == ({account.pk, other_account.pk}, {account.pk, other_account.pk})


def test_the_reassignment_page_offers_the_bulk_reassign_for_each_departed_owner(world):
    with now():
        content = client_for(world.salesmgr).get(f"/insights/reassignment/?{QUERY}").content.decode()
    assert f'href="/reassign/book/?from_user={world.leaver.pk}"' in content
    with now():
        content = client_for(world.deliverymgr).get(f"/insights/reassignment/?{QUERY}").content.decode()
    assert "from_user=" not in content  # delivery managers see the orphans but cannot reassign
