"""The crm part of the benchmark data: N accounts with 3 contacts, 1.5 deals and 10 activities
each, then a year of crm's history.

Not the write path: the services take milliseconds per account and the benchmark needs 100,000
of them, so rows are generated here directly, consistent with the database constraints and
with what the services would have written (an owner team row and a "new" ledger row per
account, the creation events on the timeline). On PostgreSQL rows go in with COPY (psycopg 3),
elsewhere with bulk_create (demo.scale.bulk writes both ways).

Each part adds only what is missing, so a second run adds nothing:
1. the accounts (with fewer than N bench accounts it adds the difference);
2. crm's history: some prospects changed hands in the last year (reassignment, territory, or a
   rep who then left: departure), between bench reps, and some accounts' champions left (one
   account in 40; on the accounts already missing their third contact that leaves one contact:
   single-threaded).
"""

from __future__ import annotations

import random
import time
import zlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.template.defaultfilters import pluralize

from crm import roles
from crm.duplicate_keys import name_key
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    Contact,
    Deal,
    OwnershipChange,
    PipelineTotal,
    UserProfile,
)
from crm.services import pipeline_totals_rebuild
from customer_links.models import CustomerLink
from demo.scale import bulk

OWNER_PREFIX = bulk.BENCH_REPS

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
# One contact in RARE_EVERY has one of these instead (chosen by its email): the header search's
# "rare surname" (issue 17), about 3 contacts per name at 100,000 accounts, 30 at 1,000,000.
RARE_EVERY = 1000
RARE_SURNAMES = [
    "Abernethy", "Achterberg", "Baldacchino", "Barraclough", "Blomqvist", "Brannigan", "Cartwright", "Castellanos",
    "Chmielewski", "Cruickshank", "Dalgliesh", "Delacroix", "Drummond", "Eberhardt", "Ellingsen", "Esterhazy",
    "Fairbairn", "Featherstone", "Gallacher", "Giordano", "Gustafsson", "Halvorsen", "Hargreaves", "Hollingworth",
    "Ingebrigtsen", "Iturralde", "Jablonski", "Jankowiak", "Kavanagh", "Kettleborough", "Kowalczyk", "Lachapelle",
    "Lindqvist", "Lockhart", "Macfarlane", "Mastroianni", "Montgomerie", "Nakashima", "Nightingale", "Oyelaran",
    "Ostrowski", "Pemberton", "Pettersson", "Quennell", "Quigley", "Rasmussen", "Rautenberg", "Sandoval",
    "Schoenmaker", "Sinclair", "Szczepanski", "Thorvaldsen", "Trevelyan", "Uhlmann", "Underwood", "Vandermeer",
    "Vasquez", "Wetherall", "Whitcombe", "Wojciechowski", "Yarborough", "Zabrowski", "Zielinski", "Zuckerman",
]
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

CRM_MODELS = [Account, Contact, AccountTeamMember, OwnershipChange, Deal, Activity]
HISTORY_EVERY = 32  # about one prospect in 32 changed hands in the last year
LEFT_EVERY = 40  # about one account in 40 lost its champion in the last year
HISTORY_NOTES = {
    OwnershipChange.Reason.REASSIGNMENT: "Balancing the books: {name} moves to a rep with fewer accounts.",
    OwnershipChange.Reason.TERRITORY: "Territory change: {city} is now covered by another rep.",
    OwnershipChange.Reason.DEPARTURE: "The previous owner left the company; their book was handed over.",
}


def bench_reps(count: int) -> list[int]:
    """The bench sales reps' ids (created when missing): the accounts are spread over them."""
    return bulk.bench_users(OWNER_PREFIX, count, role=roles.SALES_REP, last_name="Owner")


def analyze() -> None:
    """Fresh statistics for crm's tables, once every part has written its rows (the higher apps
    write timeline events, team and ledger rows and links too)."""
    bulk.analyze([*CRM_MODELS, CustomerLink])


class Part:
    """The crm part; `stdout` and `style` are the command's (its output and colours)."""

    def __init__(self, *, now: datetime, use_copy: bool, progress: bool, stdout: Any, style: Any) -> None:
        self.now = now
        self.use_copy = use_copy
        self.progress = progress
        self.stdout = stdout
        self.style = style

    # --- Part 1: the accounts -------------------------------------------------------------------

    def accounts(self, *, target: int, batch: int, owners: list[int]) -> None:
        # Counted by their "new account" ledger rows: handover acceptance and reassignments move
        # accounts away from the bench reps, the first ledger row stays.
        existing = OwnershipChange.objects.filter(reason=OwnershipChange.Reason.NEW, to_user__in=owners).count()
        if existing >= target:
            self.stdout.write(f"The database already holds {existing} bench accounts (>= {target}); nothing to do.")
            return
        todo = target - existing
        method = "COPY" if self.use_copy else "bulk_create"
        self.stdout.write(f"Creating {todo} accounts ({existing} already present) with {method}, {batch} per batch.")
        started = time.monotonic()
        with bulk.part("Accounts", total=todo, unit="account", stdout=self.stdout, progress=self.progress) as bar:
            for offset in range(0, todo, batch):
                size = min(batch, todo - offset)
                with transaction.atomic():
                    rows = bulk.Rows(CRM_MODELS, use_copy=self.use_copy)
                    self._batch(rows, first=existing + offset, size=size, owners=owners)
                    rows.write()
                bar.update(size)
        # Rows went in without the deal services, so the pipeline totals are recomputed once.
        pipeline_totals_rebuild()
        # Fresh statistics: the planner must see 100,000 accounts, not the empty tables.
        bulk.analyze([*CRM_MODELS, PipelineTotal])
        seconds = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"Created {todo} accounts in {seconds:.1f}s."))

    def _batch(self, rows: bulk.Rows, *, first: int, size: int, owners: list[int]) -> None:
        add = rows.add
        rng = random.Random(first)  # the same data for the same account numbers
        now = self.now
        for g in range(first, first + size):
            # Every owner gets accounts of each kind: the deal stages below repeat every 4 accounts
            # (only one account in 4 has a won deal), so owners go round within each of the 4.
            owner = owners[(g // 4 + 13 * (g % 4)) % len(owners)]
            created = now - timedelta(days=30 + (g * 7919) % 700, minutes=(g * 31) % 1440)
            city, country = CITIES[g % len(CITIES)]
            n_deals = 1 if g % 2 == 0 else 2  # 1.5 deals per account on average
            deal_stages = [STAGES[(g * 3 // 2 + k) % len(STAGES)] for k in range(n_deals)]
            lifecycle = Account.Lifecycle.CUSTOMER if "won" in deal_stages else Account.Lifecycle.PROSPECT
            name = f"{NAME_WORDS[g % len(NAME_WORDS)]} {NAME_KINDS[(g // len(NAME_WORDS)) % len(NAME_KINDS)]} {g + 1}"
            account = add(Account, name=name, website="", name_key=name_key(name), domain_key="",
                          industry=INDUSTRIES[g % len(INDUSTRIES)], city=city, country=country,
                          lifecycle=lifecycle, notes="", owner_id=owner, created_at=created, updated_at=created)
            for k in range(3):
                first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                email = f"{first_name}.{last_name}.{g}@customer.example".lower()
                last_name, email = rare_surname(last_name, email)
                # Every 20th account's third contact has left the customer (kept for history).
                left = k == 2 and g % 20 == 0
                add(Contact, account_id=account, first_name=first_name, last_name=last_name, title="",
                    role=CONTACT_ROLES[k], email=email,
                    phone=f"+44 7700 {rng.randint(100000, 999999)}",
                    preferred_channel=CHANNELS[(g + k) % len(CHANNELS)],
                    best_time="", do_not_contact=k == 1 and g % 25 == 0, is_primary=k == 0, is_active=not left,
                    left_at=(created + timedelta(days=20)).date() if left else None, created_at=created)
            add(AccountTeamMember, account_id=account, user_id=owner, role=AccountTeamMember.Role.OWNER,
                started_at=created, ended_at=None)
            add(OwnershipChange, account_id=account, from_user_id=None, to_user_id=owner, changed_at=created,
                reason=OwnershipChange.Reason.NEW, note="", assigned_by_id=owner, notified_at=created)
            deals = []
            deal_names = [f"{name.rsplit(' ', 1)[0]} deal {k + 1}" for k in range(n_deals)]
            for k, stage in enumerate(deal_stages):
                opened = created + timedelta(days=1 + k * 10)
                closed = opened + timedelta(days=20) if stage in ("won", "lost") else None
                deals.append(add(
                    Deal, account_id=account, name=deal_names[k], value=Decimal(1000 + (g * 37 + k * 1000) % 90000),
                    currency="EUR", expected_close_date=(opened + timedelta(days=60)).date(), stage=stage,
                    owner_id=owner, sold_by_id=owner if stage == "won" else None, closed_at=closed,
                    lost_reason="Chose a competitor." if stage == "lost" else "", created_at=opened,
                    updated_at=closed or opened,
                ))
            # The timeline: the creation events the services write, then seven logged activities.
            rows.event(account=account, event_type="account.created", subject=f"Account {name} created", at=created,
                       actor=owner, data={"owner": owner})
            rows.event(account=account, event_type="account.owner_changed",
                       subject="Owner changed from nobody (New account)", at=created, actor=owner,
                       data={"from": None, "to": owner, "reason": "new"})
            rows.event(account=account, deal=deals[0], event_type="deal.created",
                       subject=f"Deal {deal_names[0]} opened", at=created + timedelta(days=1), actor=owner,
                       data={"stage": "lead"})
            span = max(int((now - created).total_seconds()) - 172800, 3600)
            for k in range(7):
                kind, subject, body = LOGGED[(g + k) % len(LOGGED)]
                when = created + timedelta(days=2, seconds=span * (k + 1) // 8)
                add(Activity, account_id=account, deal_id=deals[k % n_deals] if k % 3 == 0 else None, kind=kind,
                    event_type="", subject=subject, body=body, occurred_at=when, actor_id=owner, actor_label="",
                    ip_address=None, data={}, created_at=when)

    def rare_surnames(self) -> None:
        """Gives the contacts of a database seeded before the rare surnames theirs (new seeds
        make them so, `_batch`): one in RARE_EVERY, by email, its email following the name."""
        started = time.monotonic()
        renamed = []
        contacts = Contact.objects.filter(last_name__in=LAST_NAMES, email__endswith="@customer.example")
        for pk, last_name, email in contacts.values_list("pk", "last_name", "email").iterator(chunk_size=20000):
            rare, new_email = rare_surname(last_name, email)
            if rare != last_name:
                renamed.append((pk, rare, new_email))
        if not renamed:
            return
        with transaction.atomic():
            bulk.update(Contact, ["last_name", "email"], renamed, use_copy=self.use_copy)
        self.stdout.write(f"Rare surnames: {len(renamed)} contact{pluralize(len(renamed))} renamed, "
                          f"in {time.monotonic() - started:.1f}s.")

    # --- Part 2: ownership history ----------------------------------------------------------------

    def history(self, owners: list[int]) -> None:
        """About one prospect in HISTORY_EVERY changed hands in the last year, as crm's reassignment
        services would have recorded it: the owner's team period ended and a new one began, a
        ledger row with the reason and a note, the open deals moved, the events. A departure is
        two changes: first to a rep who has since left (inactive), then from them to another."""
        if len(owners) < 2:
            return
        changed = OwnershipChange.objects.filter(account=OuterRef("pk")).exclude(reason=OwnershipChange.Reason.NEW)
        candidates = (
            Account.objects.filter(owner__in=owners, lifecycle=Account.Lifecycle.PROSPECT)
            .filter(~Exists(changed)).order_by("pk").values("pk", "name", "city", "owner_id", "created_at")
        )
        # Streamed (a server-side cursor on PostgreSQL): at 1,000,000 accounts the candidates are
        # 750,000 rows, of which one in 32 is kept.
        accounts = [a for a in candidates.iterator(chunk_size=20000) if chosen("crm-history", a["pk"], HISTORY_EVERY)]
        if not accounts:
            return
        managers = bulk.bench_users(bulk.BENCH_SALES_MANAGERS, 2, role=roles.SALES_MANAGER, last_name="Sales manager")
        departed = bulk.bench_users(bulk.BENCH_DEPARTED, 1, role=roles.SALES_REP, last_name="Departed rep",
                                    is_active=False)[0]
        # Each bench rep reports to a bench sales manager (the dashboards' team filter).
        for index, owner in enumerate(owners):
            UserProfile.objects.filter(user_id=owner, manager__isnull=True).update(manager_id=managers[index % 2])
        names = bulk.user_names([*owners, departed, *managers])
        with bulk.part("Ownership history", total=len(accounts), unit="account", stdout=self.stdout,
                       progress=self.progress) as bar, transaction.atomic():
            ids = [a["pk"] for a in accounts]
            team = dict(
                AccountTeamMember.objects.current().filter(account_id__in=ids, role=AccountTeamMember.Role.OWNER)
                .values_list("account_id", "pk")
            )
            deals: dict[int, list[tuple[int, str, int]]] = {}
            for pk, account_id, name, owner_id in Deal.objects.filter(account_id__in=ids).open().values_list(
                "pk", "account_id", "name", "owner_id"
            ):
                deals.setdefault(account_id, []).append((pk, name, owner_id))
            rows = bulk.Rows([AccountTeamMember, OwnershipChange, Activity], use_copy=self.use_copy)
            ended: list[tuple[Any, ...]] = []
            moved: dict[int, tuple[Any, ...]] = {}
            owned: list[tuple[Any, ...]] = []
            for a in accounts:
                rng = random.Random(f"crm-history:{a['pk']}")
                current, owner = team.get(a["pk"]), a["owner_id"]
                reason = rng.choices(list(HISTORY_NOTES), weights=[55, 35, 10])[0]
                when = self._history_time(rng, a["created_at"])
                steps = []
                if reason == OwnershipChange.Reason.DEPARTURE:
                    before = a["created_at"] + (when - a["created_at"]) * rng.uniform(0.3, 0.8)
                    steps.append((before.replace(microsecond=0), departed, OwnershipChange.Reason.REASSIGNMENT))
                choices = [o for o in owners if o != owner]
                steps.append((when, choices[rng.randrange(len(choices))], reason))
                if current is not None:
                    ended.append((current, steps[0][0]))
                for index, (at, to_user, why) in enumerate(steps):
                    by = managers[rng.randrange(len(managers))]
                    until = steps[index + 1][0] if index + 1 < len(steps) else None
                    rows.add(AccountTeamMember, account_id=a["pk"], user_id=to_user, role=AccountTeamMember.Role.OWNER,
                             started_at=at, ended_at=until)
                    note = HISTORY_NOTES[why].format(name=a["name"], city=a["city"])
                    change = rows.add(OwnershipChange, account_id=a["pk"], from_user_id=owner, to_user_id=to_user,
                                      changed_at=at, reason=why, note=note, assigned_by_id=by,
                                      notified_at=at + timedelta(minutes=1))
                    rows.event(account=a["pk"], event_type="account.owner_changed", at=at, actor=by, body=note,
                               subject=f"Owner changed from {names[owner]} to {names[to_user]} "
                               f"({OwnershipChange.Reason(why).label})",
                               data={"from": owner, "to": to_user, "reason": why, "change": change})
                    for deal_id, deal_name, deal_owner in deals.get(a["pk"], []):
                        if deal_owner == owner:
                            moved[deal_id] = (deal_id, to_user, at)
                            rows.event(account=a["pk"], deal=deal_id, event_type="deal.owner_changed", at=at,
                                       actor=by, subject=f"Deal {deal_name} moved to {names[to_user]}",
                                       data={"from": owner, "to": to_user})
                    deals[a["pk"]] = [(d, n, to_user if o == owner else o) for d, n, o in deals.get(a["pk"], [])]
                    owner = to_user
                owned.append((a["pk"], owner, when))
                bar.update(1)
            # The current owner periods end first: at most one current owner per account.
            bulk.update(AccountTeamMember, ["ended_at"], ended, use_copy=self.use_copy)
            rows.write()
            bulk.update(Account, ["owner_id", "updated_at"], owned, use_copy=self.use_copy)
            bulk.update(Deal, ["owner_id", "updated_at"], list(moved.values()), use_copy=self.use_copy)

    def _history_time(self, rng: random.Random, created: datetime) -> datetime:
        """A moment in the last year (a quarter of them in the last 90 days), after creation."""
        earliest = max(created + timedelta(days=7), self.now - timedelta(days=365))
        latest = self.now - timedelta(hours=1)
        if earliest >= latest:
            earliest = created + (self.now - created) / 2
        return (earliest + (latest - earliest) * rng.random()).replace(microsecond=0)

    def contacts_left(self, owners: list[int]) -> None:
        """The champion of about one bench account in LEFT_EVERY left the customer in the last year, as
        contact_update records it (inactive, the day they left, an event)."""
        bench = OwnershipChange.objects.filter(reason=OwnershipChange.Reason.NEW, to_user__in=owners)
        # The champion made with the account (a customer may name a new one later).
        candidates = (
            Contact.objects.filter(role=Contact.Role.CHAMPION, is_active=True, account__in=bench.values("account_id"),
                                   created_at=F("account__created_at"))
            .order_by("pk").values("pk", "account_id", "first_name", "last_name", "account__created_at",
                                   "account__owner_id")
        )
        leaving = [c for c in candidates.iterator(chunk_size=20000) if chosen("crm-left", c["account_id"], LEFT_EVERY)]
        if not leaving:
            return
        started = time.monotonic()
        with transaction.atomic():
            rows = bulk.Rows([Activity], use_copy=self.use_copy)
            left = []
            for c in leaving:
                rng = random.Random(f"crm-left:{c['pk']}")
                when = self._history_time(rng, c["account__created_at"])
                left.append((c["pk"], False, when.date()))
                rows.event(
                    account=c["account_id"], event_type="contact.updated", at=when, actor=c["account__owner_id"],
                    subject=f"{c['first_name']} {c['last_name']} left the organisation",
                    data={"contact": c["pk"], "changed": {"is_active": {"from": True, "to": False},
                                                          "left_at": {"from": None, "to": str(when.date())}}},
                )
            bulk.update(Contact, ["is_active", "left_at"], left, use_copy=self.use_copy)
            rows.write()
        seconds = time.monotonic() - started
        self.stdout.write(
            f"Contacts left: {len(leaving)} champion{pluralize(len(leaving))} left their organisation, "
            f"in {seconds:.1f}s."
        )


def rare_surname(last_name: str, email: str) -> tuple[str, str]:
    """(surname, email) of a seeded contact: one in RARE_EVERY, chosen by the email it would
    have (first.last.n@customer.example), takes a rare surname, and its email follows."""
    if zlib.crc32(f"crm-surname:{email}".encode()) % RARE_EVERY:
        return last_name, email
    rare = RARE_SURNAMES[zlib.crc32(f"crm-surname-pick:{email}".encode()) % len(RARE_SURNAMES)]
    first, _, rest = email.partition(".")
    return rare, f"{first}.{rare.lower()}.{rest.partition('.')[2]}"


def chosen(salt: str, pk: int, every: int) -> bool:
    """About one id in `every`, the same ones on every run, spread whatever the ids' offset."""
    return zlib.crc32(f"{salt}:{pk}".encode()) % every == 0
