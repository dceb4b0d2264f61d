"""Ten people send the same contact a portal link at the same moment: each send replaces the
previous one and exactly one link stays live; none ends in an IntegrityError (a 500).

PostgreSQL only, as tests/test_concurrency.py: SQLite serialises whole writes.
"""

from __future__ import annotations

import pytest
from django.db import connection

from customer_links.models import CustomerLink
from delivery import services
from tests.scenarios import run_together

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency tests need PostgreSQL row locks: set DATABASE_URL=postgres://... (CI does)",
    ),
]


def test_ten_concurrent_portal_link_sends_for_one_contact_leave_one_live_link(account, rep):
    alice = account.contacts.get(first_name="Alice")

    results = run_together(
        *[lambda: services.portal_link_issue(account=account, by=rep, contact=alice) for _ in range(10)]
    )

    assert all(isinstance(result, CustomerLink) for result in results), results
    links = CustomerLink.objects.filter(purpose=CustomerLink.Purpose.PORTAL, account=account)
    assert links.count() == 10
    assert links.filter(revoked_at__isnull=True).count() == 1
