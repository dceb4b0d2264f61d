"""Bulk data for the benchmark: N accounts with 3 contacts, 1.5 deals and 10 activities each.

Not the write path: the services take milliseconds per account and the benchmark needs 100,000
of them, so rows are generated here directly, consistent with the database constraints and
with what the services would have written (an owner team row and a "new" ledger row per
account, the creation events on the timeline). On PostgreSQL rows go in with COPY (psycopg 3),
elsewhere with bulk_create.

Reuses data: when the database already holds N bench accounts it says so and stops; with fewer
it adds the difference.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone
from tqdm import tqdm

from crm import roles
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, OwnershipChange
from crm.services import pipeline_totals_rebuild

User = get_user_model()

OWNER_PREFIX = "bench_owner_"

NAME_WORDS = [
    "Acme", "Northwind", "Bluefin", "Helios", "Kestrel", "Brightpath", "Vantage", "Orchid", "Granite", "Lumen",
    "Falcon", "Meridian", "Copperleaf", "Tidewater", "Nimbus", "Redwood", "Sable", "Atlas", "Clearwater",
    "Evergreen", "Polaris", "Quarry", "Silverline", "Harbour", "Iris", "Juniper", "Keystone", "Lighthouse",
    "Mosaic", "Nordic", "Oakridge", "Pinnacle", "Quantum", "Riverbend", "Saffron", "Titan", "Umbra", "Valiant",
]
NAME_KINDS = [
    "Logistics", "Foods", "Energy", "Robotics", "Systems", "Partners", "Health", "Retail", "Labs", "Group",
    "Engineering", "Insurance", "Hotels", "Pharma", "Telecom", "Transit", "Media", "Farms", "Consulting",
]
INDUSTRIES = [
    "Manufacturing", "Logistics", "Food & beverage", "Energy", "Financial services", "Education", "Healthcare",
    "Hospitality", "Construction", "Software", "Retail", "Public sector", "Professional services", "Media",
]
CITIES = [
    ("Lyon", "France"), ("Rotterdam", "Netherlands"), ("Aberdeen", "United Kingdom"), ("Seville", "Spain"),
    ("Edinburgh", "United Kingdom"), ("Hamburg", "Germany"), ("Dublin", "Ireland"), ("Milan", "Italy"),
    ("Copenhagen", "Denmark"), ("Stockholm", "Sweden"), ("Vienna", "Austria"), ("London", "United Kingdom"),
    ("Lisbon", "Portugal"), ("Oslo", "Norway"), ("Paris", "France"), ("Munich", "Germany"),
]
FIRST_NAMES = ["Olivia", "Noah", "Amelia", "Leo", "Isla", "Oscar", "Freya", "Arthur", "Maya", "Hugo", "Clara", "Mateo"]
LAST_NAMES = ["Fischer", "Dubois", "Jansen", "Rossi", "Nowak", "Andersson", "Walsh", "Silva", "Murphy", "Schmidt"]
CONTACT_ROLES = [Contact.Role.DECISION_MAKER, Contact.Role.CHAMPION, Contact.Role.TECHNICAL]
CHANNELS = Contact.Channel.values
STAGES = Deal.Stage.values  # lead ... won, lost: the deal counter walks through all of them
LOGGED = [
    ("call", "Follow-up call", "Answered questions on pricing tiers."),
    ("meeting", "On-site demo", "Demo for the operations team."),
    ("email", "Sent proposal", "Proposal sent with the implementation timeline."),
    ("note", "Budget approved", "The decision maker confirmed budget for this year."),
    ("call", "Check-in call", "All good; they asked about training."),
    ("email", "Meeting recap", "Recap of decisions and next steps."),
    ("meeting", "Quarterly review", "Reviewed usage and open tickets."),
]

# Columns written per model (attribute names, which are also the column names here).
COLUMNS: dict[type[models.Model], list[str]] = {
    Account: ["id", "name", "website", "industry", "city", "country", "lifecycle", "notes", "owner_id",
              "created_at", "updated_at"],
    Contact: ["id", "account_id", "first_name", "last_name", "title", "role", "email", "phone",
              "preferred_channel", "best_time", "do_not_contact", "is_primary", "is_active", "left_at", "created_at"],
    AccountTeamMember: ["id", "account_id", "user_id", "role", "started_at", "ended_at"],
    OwnershipChange: ["id", "account_id", "from_user_id", "to_user_id", "changed_at", "reason", "note",
                      "assigned_by_id", "notified_at"],
    Deal: ["id", "account_id", "name", "value", "currency", "expected_close_date", "stage", "owner_id",
           "sold_by_id", "closed_at", "lost_reason", "created_at", "updated_at"],
    Activity: ["id", "account_id", "deal_id", "kind", "event_type", "subject", "body", "occurred_at", "actor_id",
               "actor_label", "ip_address", "data", "created_at"],
}
JSON_COLUMNS = {(Activity, "data")}


class Command(BaseCommand):
    help = "Bulk benchmark data: N accounts with 3 contacts, 1.5 deals and 10 activities each, over 50 owners."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--accounts", type=int, required=True, help="How many bench accounts the database should hold."
        )
        parser.add_argument("--owners", type=int, default=50, help="Sales reps the accounts are spread over.")
        parser.add_argument("--batch", type=int, default=5000, help="Accounts per transaction.")
        parser.add_argument("--no-copy", action="store_true", help="Use bulk_create on PostgreSQL too (slower).")

    def handle(self, *args: Any, **options: Any) -> None:
        target, batch = options["accounts"], options["batch"]
        if target < 0 or batch < 1 or options["owners"] < 1:
            raise CommandError("--accounts must be >= 0, --batch and --owners >= 1.")
        owners = self._owners(options["owners"])
        existing = Account.objects.filter(owner__username__startswith=OWNER_PREFIX).count()
        if existing >= target:
            self.stdout.write(f"The database already holds {existing} bench accounts (>= {target}); nothing to do.")
            return
        todo = target - existing
        self.use_copy = connection.vendor == "postgresql" and not options["no_copy"]
        self.now = timezone.now().replace(microsecond=0)
        method = "COPY" if self.use_copy else "bulk_create"
        self.stdout.write(f"Creating {todo} accounts ({existing} already present) with {method}, {batch} per batch.")
        started = timezone.now()
        with tqdm(total=todo, unit="account", disable=options["verbosity"] == 0) as bar:
            for offset in range(0, todo, batch):
                size = min(batch, todo - offset)
                with transaction.atomic():
                    self._batch(first=existing + offset, size=size, owners=owners)
                bar.update(size)
        # Rows went in without the deal services, so the pipeline totals are recomputed once.
        pipeline_totals_rebuild()
        if connection.vendor == "postgresql":
            # Fresh statistics: the planner must see 100,000 accounts, not the empty tables.
            with connection.cursor() as cursor:
                for model in COLUMNS:
                    cursor.execute(f"ANALYZE {model._meta.db_table}")
        seconds = (timezone.now() - started).total_seconds()
        self.stdout.write(self.style.SUCCESS(f"Created {todo} accounts in {seconds:.1f}s."))

    def _owners(self, count: int) -> list[int]:
        group = Group.objects.get(name=roles.SALES_REP)
        unusable = make_password(None)  # bench owners never log in
        ids = []
        for n in range(1, count + 1):
            user, created = User.objects.get_or_create(
                username=f"{OWNER_PREFIX}{n:02d}",
                defaults={"first_name": "Bench", "last_name": f"Owner {n:02d}", "password": unusable,
                          "email": f"{OWNER_PREFIX}{n:02d}@bench.example"},
            )
            if created:
                user.groups.add(group)
            ids.append(user.pk)
        return ids

    # --- One batch ----------------------------------------------------------------------------

    def _batch(self, *, first: int, size: int, owners: list[int]) -> None:
        if self.use_copy:
            with connection.cursor() as cursor:
                # Ids are assigned here, so nobody else may insert into these tables meanwhile.
                tables = ", ".join(m._meta.db_table for m in COLUMNS)
                cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
        next_id = {model: (model._default_manager.aggregate(m=Max("id"))["m"] or 0) + 1 for model in COLUMNS}
        rows: dict[type[models.Model], list[tuple[Any, ...]]] = {model: [] for model in COLUMNS}

        def add(model: type[models.Model], *values: Any) -> int:
            pk = next_id[model]
            next_id[model] += 1
            rows[model].append((pk, *values))
            return pk

        rng = random.Random(first)  # the same data for the same account numbers
        now = self.now
        for g in range(first, first + size):
            owner = owners[g % len(owners)]
            created = now - timedelta(days=30 + (g * 7919) % 700, minutes=(g * 31) % 1440)
            city, country = CITIES[g % len(CITIES)]
            n_deals = 1 if g % 2 == 0 else 2  # 1.5 deals per account on average
            deal_stages = [STAGES[(g * 3 // 2 + k) % len(STAGES)] for k in range(n_deals)]
            lifecycle = Account.Lifecycle.CUSTOMER if "won" in deal_stages else Account.Lifecycle.PROSPECT
            name = f"{NAME_WORDS[g % len(NAME_WORDS)]} {NAME_KINDS[(g // len(NAME_WORDS)) % len(NAME_KINDS)]} {g + 1}"
            account = add(Account, name, "", INDUSTRIES[g % len(INDUSTRIES)], city, country, lifecycle, "", owner,
                          created, created)
            for k in range(3):
                first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                # Every 20th account's third contact has left the customer (kept for history).
                left = k == 2 and g % 20 == 0
                email = f"{first_name}.{last_name}.{g}@customer.example".lower()
                add(Contact, account, first_name, last_name, "", CONTACT_ROLES[k], email,
                    f"+44 7700 {rng.randint(100000, 999999)}", CHANNELS[(g + k) % len(CHANNELS)], "",
                    k == 1 and g % 25 == 0, k == 0, not left, (created + timedelta(days=20)).date() if left else None,
                    created)
            add(AccountTeamMember, account, owner, AccountTeamMember.Role.OWNER, created, None)
            add(OwnershipChange, account, None, owner, created, OwnershipChange.Reason.NEW, "", owner, created)
            deals = []
            deal_names = [f"{name.rsplit(' ', 1)[0]} deal {k + 1}" for k in range(n_deals)]
            for k, stage in enumerate(deal_stages):
                opened = created + timedelta(days=1 + k * 10)
                closed = opened + timedelta(days=20) if stage in ("won", "lost") else None
                value = Decimal(1000 + (g * 37 + k * 1000) % 90000)
                deals.append(add(
                    Deal, account, deal_names[k], value, "EUR",
                    (opened + timedelta(days=60)).date(), stage, owner, owner if stage == "won" else None, closed,
                    "Chose a competitor." if stage == "lost" else "", opened, closed or opened,
                ))
            # The timeline: the creation events the services write, then seven logged activities.
            add(Activity, account, None, "event", "account.created", f"Account {name} created", "", created, owner,
                "", None, {"owner": owner}, created)
            add(Activity, account, None, "event", "account.owner_changed",
                "Owner changed from nobody (New account)", "", created, owner, "", None,
                {"from": None, "to": owner, "reason": "new"}, created)
            add(Activity, account, deals[0], "event", "deal.created", f"Deal {deal_names[0]} opened", "",
                created + timedelta(days=1), owner, "", None, {"stage": "lead"}, created + timedelta(days=1))
            span = max(int((now - created).total_seconds()) - 172800, 3600)
            for k in range(7):
                kind, subject, body = LOGGED[(g + k) % len(LOGGED)]
                when = created + timedelta(days=2, seconds=span * (k + 1) // 8)
                add(Activity, account, deals[k % n_deals] if k % 3 == 0 else None, kind, "", subject, body, when,
                    owner, "", None, {}, when)
        for model, model_rows in rows.items():
            self._write(model, model_rows)
        if self.use_copy:
            with connection.cursor() as cursor:
                for model in COLUMNS:
                    table = model._meta.db_table
                    cursor.execute(  # table names come from the models, not from input
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608
                    )

    def _write(self, model: type[models.Model], rows: Iterable[tuple[Any, ...]]) -> None:
        columns = COLUMNS[model]
        json_at = [i for i, c in enumerate(columns) if (model, c) in JSON_COLUMNS]
        if self.use_copy:
            with connection.cursor() as cursor:
                sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    for row in rows:
                        if json_at:
                            row = tuple(json.dumps(v) if i in json_at else v for i, v in enumerate(row))
                        copy.write_row(row)
            return
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, batch_size=2000)

