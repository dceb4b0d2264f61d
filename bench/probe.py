"""Prepares one benchmark database and measures queries per request, with the bench settings.

Prints JSON: a session key and an API token for a sales manager (who sees every account, the
most expensive case for lists), the account the detail pages use, the PostgreSQL version, and
per URL the status, the number of queries and the response size of one warm request, and the
median in-process cost over a few more (Python CPU ms, wall ms, database ms).
Run with DATABASE_URL pointing at the database: python bench/probe.py (`--login`: only the
session, for bench/export.py run alone).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

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
from crm.models import Account, Contact  # noqa: E402

MANAGER = "bench_manager"
REPEAT = int(os.environ.get("BENCH_PROBE_REPEAT", 15))


def pages(account_id: int, customer_id: int, terms: dict[str, str]) -> list[tuple[str, str]]:
    """(name, path) in report order; the first two are the references. Pages that this build
    does not have (HTTP 404) are reported as not available and not loaded."""
    q = {name: quote(value) for name, value in terms.items() if isinstance(value, str)}
    return [
        ("ref_a", f"/bench/ref/pk/{account_id}"),
        ("ref_b", "/bench/ref/table/"),
        ("accounts", "/accounts/"),
        # The list's search for a word in about 2.6% of the names (issue 17: the slowest page).
        ("accounts_search", f"/accounts/?q={q['name_word']}"),
        ("account", f"/accounts/{account_id}/"),
        # A customer's page adds delivery's section (projects, problems, the portal link) and the
        # check-up agenda, through crm's account_page_sections signal.
        ("account_customer", f"/accounts/{customer_id}/"),
        ("pipeline", "/deals/pipeline/"),
        ("api_accounts", "/api/v1/accounts/"),
        # The header search (issue 17), with values read from the data (`search_terms`).
        ("search_common", f"/search/?q={q['name_word']}"),
        ("search_surname", f"/search/?q={q['surname']}"),
        ("search_email", f"/search/?q={q['email']}"),
        ("search_phone", f"/search/?q={q['phone']}"),
        ("api_search", f"/api/v1/search/?q={q['name_word']}"),
        # The lists of issue 17: first page, then a filter.
        ("contacts", "/contacts/"),
        ("contacts_search", f"/contacts/?q={q['first_name']}"),
        ("deals", "/deals/"),
        ("deals_stage", "/deals/?stage=negotiation"),
        # The managers' dashboards (insights), default filters: the last 90 days, everyone.
        ("insights_performance", "/insights/performance/"),
        # The same page recomputing its figures instead of reusing a snapshot (insights.snapshots).
        ("insights_performance_live", "/insights/performance/?fresh=1"),
        ("insights_reassignment", "/insights/reassignment/"),
        ("insights_risk", "/insights/risk/"),
        ("insights_delivery", "/insights/delivery/"),
    ]


def search_terms(account_id: int) -> dict[str, Any]:
    """What the search and filter pages look for, read from the data at run time (the same
    rules at every size, so each size gets the same shape of query):
    - name_word: a first word of account names whose share of the names is closest to 2.6%
      (issue 17's figure; seed_scale's names take one of 38 words, 1/38 = 2.6%; within half a
      point, the first by name);
    - first_name: the contacts' most common first name (a common word for the contacts list;
      within 10% of the commonest, the first by name);
    - surname: the contacts' rarest surname (seed_scale gives 1 contact in 1,000 one of its
      rare surnames; ties by name);
    - email, phone: the email and the last six digits of the phone of the primary contact of
      the account the account page shows.
    Each comes with how many rows it matches, for the report."""
    total = Account.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT split_part(name, ' ', 1) AS word, count(*) FROM crm_account GROUP BY word")
        words = cursor.fetchall()
    # Words within half a point of 2.6% count as equal, so each size picks the same one by name.
    closest = min(abs(n / total - 0.026) for _, n in words)
    word, word_n = min((w, n) for w, n in words if abs(n / total - 0.026) <= max(closest, 0.005))
    # The same at every size too: the first by name among those within 10% of the commonest.
    names = list(Contact.objects.values_list("first_name").annotate(n=Count("id")))
    first_name, first_n = min((f, n) for f, n in names if n >= 0.9 * max(n for _, n in names))
    surname, surname_n = (
        Contact.objects.exclude(last_name="").values_list("last_name").annotate(n=Count("id"))
        .order_by("n", "last_name").first()
    )
    contact = (
        Contact.objects.filter(account_id=account_id).order_by("-is_primary", "id")
        .values("email", "phone").first()
    )
    if contact is None:
        sys.exit(f"Account {account_id} has no contact: run manage.py seed_scale first.")
    phone = "".join(ch for ch in contact["phone"] if ch.isdigit())[-6:]
    return {
        "name_word": word, "first_name": first_name, "surname": surname, "email": contact["email"],
        "phone": phone,
        "matches": {
            "name_word": {"accounts": word_n, "share": word_n / total if total else 0.0},
            "first_name": {"contacts": first_n},
            "surname": {"contacts": surname_n},
            "email": {"contacts": Contact.objects.filter(email=contact["email"]).count()},
            "phone": {"contacts": Contact.objects.filter(phone__endswith=phone).count()},
        },
    }


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
    if "--login" in sys.argv[1:]:  # bench/export.py alone: only the manager's session
        browser = Client(HTTP_HOST="127.0.0.1")
        browser.force_login(user)
        print(json.dumps({"session": browser.cookies["sessionid"].value, "accounts": Account.objects.count()}))
        return
    account_id = typical_account()
    customer_id = typical_customer()
    browser = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
    browser.force_login(user)
    token, _ = Token.objects.get_or_create(user=user)
    api = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token.key}")
    terms = search_terms(account_id)
    results = {}
    for name, url in pages(account_id, customer_id, terms):
        client = api if url.startswith("/api/") else browser
        client.get(url)  # warm: caches, content types, first-use imports
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        # In-process cost, less sensitive to other work on the machine than wrk's latencies:
        # the Python CPU time of one request, and the database's share of its wall time.
        cpu, wall, database = [], [], []
        if response.status_code != 200:  # not on this build (404), or broken: reported, not timed
            results[name] = {"url": url, "status": response.status_code, "queries": len(queries),
                             "bytes": len(response.content), "cpu_ms": None, "wall_ms": None, "db_ms": None}
            continue
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
        "customer_id": customer_id, "terms": terms,
        "accounts": Account.objects.count(), "postgres": version, "pages": results,
    }))


if __name__ == "__main__":
    main()
