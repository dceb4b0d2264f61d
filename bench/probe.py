"""Prepares one benchmark database and measures queries per request, with the bench settings.

Prints JSON: a session key and an API token for a sales manager (who sees every account, the
most expensive case for lists), the account the detail pages use, the PostgreSQL version, and
per URL the status, the number of queries and the response size of one warm request, and the
median in-process cost over a few more (Python CPU ms, wall ms, database ms).
Run with DATABASE_URL pointing at the database: python bench/probe.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from crm import roles  # noqa: E402
from crm.models import Account  # noqa: E402

MANAGER = "bench_manager"
REPEAT = int(os.environ.get("BENCH_PROBE_REPEAT", 15))


def pages(account_id: int, customer_id: int) -> list[tuple[str, str]]:
    """(name, path) in report order; the first two are the references."""
    return [
        ("ref_a", f"/bench/ref/pk/{account_id}"),
        ("ref_b", "/bench/ref/table/"),
        ("accounts", "/accounts/"),
        ("account", f"/accounts/{account_id}/"),
        # A customer's page adds delivery's section (projects, problems, the portal link) and the
        # check-up agenda, through crm's account_page_sections signal.
        ("account_customer", f"/accounts/{customer_id}/"),
        ("pipeline", "/deals/pipeline/"),
        ("api_accounts", "/api/v1/accounts/"),
        # The managers' dashboards (insights), default filters: the last 90 days, everyone.
        ("insights_performance", "/insights/performance/"),
        # The same page recomputing its figures instead of reusing a snapshot (insights.snapshots).
        ("insights_performance_live", "/insights/performance/?fresh=1"),
        ("insights_reassignment", "/insights/reassignment/"),
        ("insights_risk", "/insights/risk/"),
        ("insights_delivery", "/insights/delivery/"),
    ]


def manager() -> Any:
    user, created = get_user_model().objects.get_or_create(
        username=MANAGER,
        defaults={"first_name": "Bench", "last_name": "Manager", "email": "bench_manager@bench.example"},
    )
    if created:
        user.set_unusable_password()
        user.save()
        user.groups.add(Group.objects.get(name=roles.SALES_MANAGER))
    return user


def typical_account() -> int:
    """A bench account from the middle of the table with two deals: the same shape at any scale."""
    bench = Account.objects.filter(owner__username__startswith="bench_owner_").order_by("id")
    total = bench.count()
    if not total:
        sys.exit("No bench accounts: run manage.py seed_scale first.")
    candidates = bench[total // 2 : total // 2 + 10].annotate(n=Count("deals"))
    return next((a.pk for a in candidates if a.n == 2), candidates[0].pk)


def typical_customer() -> int:
    """A customer (an accepted handover made it one) with one delivery project, from the middle
    of the customers: the same shape at any scale. Its owner is the delivery owner."""
    customers = (
        Account.objects.exclude(lifecycle=Account.Lifecycle.PROSPECT)
        .annotate(n=Count("projects"))
        .filter(n=1)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    total = customers.count()
    if not total:
        sys.exit("No bench customers: run manage.py seed_scale (without --crm-only) first.")
    return customers[total // 2]


def main() -> None:
    user = manager()
    account_id = typical_account()
    customer_id = typical_customer()
    browser = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
    browser.force_login(user)
    token, _ = Token.objects.get_or_create(user=user)
    api = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token.key}")
    results = {}
    for name, url in pages(account_id, customer_id):
        client = api if url.startswith("/api/") else browser
        client.get(url)  # warm: caches, content types, first-use imports
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        # In-process cost, less sensitive to other work on the machine than wrk's latencies:
        # the Python CPU time of one request, and the database's share of its wall time.
        cpu, wall, database = [], [], []
        for _ in range(REPEAT):
            with CaptureQueriesContext(connection) as timed:
                started_cpu, started = time.process_time(), time.perf_counter()
                client.get(url)
                cpu.append(time.process_time() - started_cpu)
                wall.append(time.perf_counter() - started)
            database.append(sum(float(q["time"]) for q in timed.captured_queries))
        results[name] = {
            "url": url, "status": response.status_code, "queries": len(queries), "bytes": len(response.content),
            "cpu_ms": 1000 * statistics.median(cpu), "wall_ms": 1000 * statistics.median(wall),
            "db_ms": 1000 * statistics.median(database),
        }
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(json.dumps({
        "session": browser.cookies["sessionid"].value, "token": token.key, "account_id": account_id,
        "customer_id": customer_id,
        "accounts": Account.objects.count(), "postgres": version, "pages": results,
    }))


if __name__ == "__main__":
    main()
