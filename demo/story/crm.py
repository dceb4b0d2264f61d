"""The crm part of the demo story: one user per role and about fifty customer relationships.

Everything is written through crm.services, so the timeline, the ownership ledger and the team
history look exactly as they would after months of real use. The services stamp rows with "now";
each step then moves what it wrote back to the moment the story says it happened
(demo.story.clock).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.template.defaultfilters import pluralize

from crm import roles, services
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    Contact,
    Deal,
    OwnershipChange,
    UserProfile,
)
from demo.story.clock import DemoClock
from flows import actions as flows

User = get_user_model()

# username, first, last, role, phone, reports to
DEMO_USERS = [
    ("salesmgr", "Sofia", "Lindqvist", roles.SALES_MANAGER, "+44 20 7946 0811", None),
    ("deliverymgr", "Marcus", "Oyelaran", roles.DELIVERY_MANAGER, "+44 20 7946 0822", None),
    ("rep", "Emma", "Hartley", roles.SALES_REP, "+44 7700 900431", "salesmgr"),
    ("rep2", "Lucas", "Moreau", roles.SALES_REP, "+33 6 12 34 56 78", "salesmgr"),
    ("presales", "Priya", "Raman", roles.PRESALES, "+44 7700 900517", "salesmgr"),
    ("delivery", "Jonas", "Becker", roles.DELIVERY_TEAM, "+49 151 2345 6789", "deliverymgr"),
    ("admin", "Ada", "Okafor", roles.ADMINISTRATOR, "+44 20 7946 0800", None),
]
# A rep who left the company: their book went to rep2 (the departure in the ledger).
DEPARTED_USER = ("tberger", "Tom", "Berger", roles.SALES_REP, "+44 7700 900642", "salesmgr")
LOGIN_ORDER = ["rep", "rep2", "presales", "salesmgr", "delivery", "deliverymgr", "admin"]

# name, industry, city, country, website domain
COMPANIES = [
    ("Acme Robotics", "Manufacturing", "Lyon", "France", "acme-robotics.fr"),
    ("Northwind Logistics", "Logistics", "Rotterdam", "Netherlands", "northwind-logistics.nl"),
    ("Bluefin Seafoods", "Food & beverage", "Aberdeen", "United Kingdom", "bluefinseafoods.co.uk"),
    ("Helios Solar", "Energy", "Seville", "Spain", "helios-solar.es"),
    ("Kestrel Insurance", "Financial services", "Edinburgh", "United Kingdom", "kestrel-insurance.co.uk"),
    ("Brightpath Academy", "Education", "Manchester", "United Kingdom", "brightpath.ac.uk"),
    ("Vantage Dental Group", "Healthcare", "Leeds", "United Kingdom", "vantagedental.co.uk"),
    ("Orchid Hotels", "Hospitality", "Lisbon", "Portugal", "orchidhotels.pt"),
    ("Granite Build", "Construction", "Glasgow", "United Kingdom", "granitebuild.co.uk"),
    ("Lumen Pharma", "Pharmaceuticals", "Basel", "Switzerland", "lumenpharma.ch"),
    ("Falcon Freight", "Logistics", "Hamburg", "Germany", "falconfreight.de"),
    ("Meridian Bank", "Financial services", "Frankfurt", "Germany", "meridianbank.de"),
    ("Copperleaf Foods", "Food & beverage", "Cork", "Ireland", "copperleaf.ie"),
    ("Tidewater Utilities", "Energy", "Bristol", "United Kingdom", "tidewater-utilities.co.uk"),
    ("Nimbus Software", "Software", "Dublin", "Ireland", "nimbussoftware.io"),
    ("Redwood Retail", "Retail", "Birmingham", "United Kingdom", "redwoodretail.co.uk"),
    ("Sable Fashion", "Retail", "Milan", "Italy", "sablefashion.it"),
    ("Atlas Engineering", "Manufacturing", "Stuttgart", "Germany", "atlas-engineering.de"),
    ("Clearwater Clinics", "Healthcare", "Copenhagen", "Denmark", "clearwaterclinics.dk"),
    ("Evergreen Estates", "Real estate", "London", "United Kingdom", "evergreenestates.co.uk"),
    ("Polaris Telecom", "Telecommunications", "Stockholm", "Sweden", "polaristelecom.se"),
    ("Quarry Lane Brewery", "Food & beverage", "Sheffield", "United Kingdom", "quarrylanebrewery.co.uk"),
    ("Silverline Rail", "Transport", "Vienna", "Austria", "silverline-rail.at"),
    ("Harbour City Council", "Public sector", "Portsmouth", "United Kingdom", "harbourcity.gov.uk"),
    ("Iris Opticians", "Healthcare", "Ghent", "Belgium", "irisopticians.be"),
    ("Juniper Legal", "Professional services", "London", "United Kingdom", "juniperlegal.co.uk"),
    ("Keystone Plastics", "Manufacturing", "Eindhoven", "Netherlands", "keystoneplastics.nl"),
    ("Lighthouse Charities", "Non-profit", "Cardiff", "United Kingdom", "lighthousecharities.org.uk"),
    ("Mosaic Media", "Media", "Barcelona", "Spain", "mosaicmedia.es"),
    ("Nordic Timber", "Forestry", "Oslo", "Norway", "nordictimber.no"),
    ("Oakridge Farms", "Agriculture", "Norwich", "United Kingdom", "oakridgefarms.co.uk"),
    ("Pinnacle Consulting", "Professional services", "Paris", "France", "pinnacle-consulting.fr"),
    ("Quantum Labs", "Software", "Munich", "Germany", "quantumlabs.de"),
    ("Riverbend Hospital", "Healthcare", "Nottingham", "United Kingdom", "riverbendhospital.nhs.uk"),
    ("Saffron Restaurants", "Hospitality", "Leicester", "United Kingdom", "saffronrestaurants.co.uk"),
    ("Titan Steelworks", "Manufacturing", "Katowice", "Poland", "titansteel.pl"),
    ("Umbra Security", "Software", "Tallinn", "Estonia", "umbrasecurity.ee"),
    ("Valiant Motors", "Automotive", "Turin", "Italy", "valiantmotors.it"),
    ("Willow Care Homes", "Healthcare", "York", "United Kingdom", "willowcare.co.uk"),
    ("Xenon Lighting", "Manufacturing", "Lille", "France", "xenonlighting.fr"),
    ("Yellowstone Travel", "Travel", "Amsterdam", "Netherlands", "yellowstonetravel.nl"),
    ("Zephyr Wind", "Energy", "Aarhus", "Denmark", "zephyrwind.dk"),
    ("Alder Architects", "Professional services", "Bath", "United Kingdom", "alderarchitects.co.uk"),
    ("Beacon Credit Union", "Financial services", "Belfast", "United Kingdom", "beaconcu.co.uk"),
    ("Cobalt Mining", "Mining", "Kiruna", "Sweden", "cobaltmining.se"),
    ("Delta Pharmacies", "Retail", "Porto", "Portugal", "deltapharmacies.pt"),
    ("Ember Games", "Media", "Helsinki", "Finland", "embergames.fi"),
    ("Fjord Aquaculture", "Agriculture", "Bergen", "Norway", "fjordaqua.no"),
    ("Greenway Transit", "Transport", "Zurich", "Switzerland", "greenwaytransit.ch"),
    ("Highland Distillers", "Food & beverage", "Inverness", "United Kingdom", "highlanddistillers.co.uk"),
    ("Ivory Interiors", "Retail", "Brussels", "Belgium", "ivoryinteriors.be"),
    ("Jasper Logistics", "Logistics", "Antwerp", "Belgium", "jasperlogistics.be"),
]

FIRST_NAMES = [
    "Olivia", "Noah", "Amelia", "Leo", "Isla", "Oscar", "Freya", "Arthur", "Maya", "Hugo", "Clara", "Mateo",
    "Ingrid", "Tariq", "Chloe", "Rafael", "Nadia", "Samuel", "Elena", "Kwame", "Hannah", "Luca", "Aisha",
    "Felix", "Sara", "Daniel", "Marta", "Henrik", "Zoe", "Pierre", "Anya", "Ibrahim", "Lena", "Tomás",
]
LAST_NAMES = [
    "Fischer", "Dubois", "Jansen", "Rossi", "Nowak", "Andersson", "Walsh", "Kowalski", "Silva", "Novak",
    "Murphy", "Schmidt", "Laurent", "Bakker", "Costa", "Evans", "Lindberg", "Morgan", "Okonkwo", "Petrov",
    "Reid", "Santos", "Vogel", "Wright", "Hughes", "Keller", "Marino", "Brennan", "Haddad", "Nilsen",
]
# (role, job titles, preferred channels, best times)
CONTACT_SHAPES = [
    (Contact.Role.DECISION_MAKER, ["Managing Director", "COO", "Head of Operations", "CFO"]),
    (Contact.Role.CHAMPION, ["Operations Manager", "Project Lead", "Head of IT"]),
    (Contact.Role.TECHNICAL, ["IT Manager", "Systems Engineer", "Infrastructure Lead"]),
    (Contact.Role.USER, ["Team Leader", "Site Supervisor", "Office Manager"]),
    (Contact.Role.BILLING, ["Finance Manager", "Accounts Payable", "Procurement Officer"]),
]
BEST_TIMES = [
    "Mornings before 10:00", "Tuesdays and Thursdays", "After 14:00", "Friday mornings",
    "Not on Mondays", "Lunchtime, 12:00-13:00", "", "",
]

PRODUCTS = [
    ("Keepwarm Field Tablet", Decimal("890")),
    ("Sensor Gateway", Decimal("1450")),
    ("Warehouse Scanner Kit", Decimal("2300")),
    ("Annual Platform Licence (per seat)", Decimal("420")),
    ("Analytics Module", Decimal("6500")),
    ("Edge Server", Decimal("7800")),
]
SERVICES = [
    ("Installation and set-up", Decimal("3200")),
    ("Data migration", Decimal("5400")),
    ("On-site training (per day)", Decimal("1100")),
    ("Integration with ERP", Decimal("9500")),
    ("Premium support (12 months)", Decimal("4800")),
    ("Project management", Decimal("2600")),
]
DEAL_TOPICS = ["rollout", "pilot", "expansion", "renewal", "phase 2", "upgrade", "new site"]

CALLS = [  # the first one opens every deal
    ("Discovery call", "Walked through their current process; pain points are manual reporting and missed follow-ups."),
    ("Follow-up call", "Answered questions on pricing tiers; they want a breakdown by site."),
    ("Check-in call", "All good so far. They asked about training for new starters."),
    ("Call about the proposal", "Procurement needs the proposal split into capex and opex lines."),
    ("Reference call arranged", "Connected them with a similar customer for a reference."),
]
MEETINGS = [
    ("On-site demo", "Demo for the operations team; strong interest in the offline mode."),
    ("Workshop: requirements", "Half-day workshop to map integrations and reporting needs."),
    ("Quarterly review", "Reviewed usage and open tickets; they are considering a second site."),
    ("Negotiation meeting", "Discussed payment terms and a three-year commitment."),
]
EMAILS = [
    ("Sent proposal", "Proposal v2 sent with the revised implementation timeline."),
    ("Sent case study", "Shared the logistics case study they asked for."),
    ("Pricing clarification", "Confirmed that training days are billed separately."),
    ("Meeting recap", "Recap of decisions and next steps sent to all attendees."),
]
NOTES = [
    ("Budget approved", "The decision maker confirmed budget for this financial year."),
    ("Competitor in play", "They are also evaluating a competitor; price is not the main criterion."),
    ("Org change", "New head of operations starting next month; keep the champion close."),
    ("Customer expectation", "They expect go-live before the peak season in November."),
]
LOST_REASONS = [
    "Chose a competitor with an existing ERP connector.",
    "Budget frozen after a reorganisation.",
    "Project postponed indefinitely.",
    "Went with an in-house solution.",
]
HANDOVER_NOTES = [
    "Territory realignment. The champion prefers email; procurement is slow, so plan ahead.",
    "Rebalancing books. Open proposal is waiting on legal; decision maker is friendly but busy.",
    "Moving to the key-accounts team. They are sensitive about delivery dates; see the notes on the timeline.",
]
DEPARTURE_NOTE = (
    "Tom has left the company. His book moves to Lucas; please call every decision maker within two weeks "
    "and introduce yourself."
)


# Every timestamp the crm services stamp with "now" (the clock moves them back).
CRM_STAMPED = [
    (Account, "created_at"),
    (Contact, "created_at"),
    (AccountTeamMember, "started_at"),
    (AccountTeamMember, "ended_at"),
    (OwnershipChange, "changed_at"),
    (Deal, "created_at"),
    (Deal, "closed_at"),
    (Activity, "occurred_at"),
    (Activity, "created_at"),
]


class Story:
    """The crm demo data, told with one random generator: the parts after it (handover,
    delivery, touchpoints) go on drawing from the same one, so the demo is the same every time."""

    def __init__(self, *, rng: random.Random, now: datetime, stdout: Any) -> None:
        self.rng = rng
        self.now = now
        self.stdout = stdout
        self.clock = DemoClock(CRM_STAMPED)

    def loaded(self) -> bool:
        return Account.objects.filter(name__in=[c[0] for c in COMPANIES]).exists()

    def counts(self) -> dict[str, int]:
        return {
            "accounts": Account.objects.count(), "contacts": Contact.objects.count(), "deals": Deal.objects.count(),
            "activities": Activity.objects.count(), "ownership changes": OwnershipChange.objects.count(),
        }

    # --- People -------------------------------------------------------------------------------

    def users(self, password: str) -> tuple[dict[str, Any], int]:
        # One hash for all demo users: hashing is deliberately slow and this is a known password.
        hashed = make_password(password)
        users: dict[str, Any] = {}
        created = 0
        for username, first, last, role, phone, manager in [*DEMO_USERS, DEPARTED_USER]:
            user, was_created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first, "last_name": last, "password": hashed,
                    "email": f"{first.lower()}.{last.lower()}@keepwarm.example",
                    "is_staff": username == "admin", "is_superuser": username == "admin",
                },
            )
            users[username] = user
            if was_created:
                created += 1
                user.groups.add(Group.objects.get(name=role))
                UserProfile.objects.filter(user=user).update(
                    phone=phone, time_zone="Europe/London", manager=users.get(manager) if manager else None,
                )
        if created:
            self.stdout.write(f"Users: created {created} demo user{pluralize(created)}.")
        return users, created

    def print_logins(self, password: str) -> None:
        self.stdout.write(f"\nDemo logins (password for all: {password}):")
        for username in LOGIN_ORDER:
            user = User.objects.filter(username=username).first()
            if user is None:
                continue
            role = ", ".join(user.groups.values_list("name", flat=True)) or "Administrator"
            self.stdout.write(f"  {username:<12} {user.get_full_name():<18} {role}")

    # --- Accounts -----------------------------------------------------------------------------

    def accounts(self, users: dict[str, Any]) -> None:
        rng = self.rng
        # Who owns what at first: Tom's book leaves with him 20 days ago.
        departure_at = self.now - timedelta(days=20)
        owners = ["rep"] * 20 + ["rep2"] * 17 + ["tberger"] * 9 + ["rep", "rep2"] * 3
        rng.shuffle(owners)
        stage_plan = self._stage_plan(len(COMPANIES))
        reassign_from = {i for i in range(len(COMPANIES)) if i % 9 == 5}  # these change hands with a note
        self.stdout.write(f"Accounts: creating {len(COMPANIES)} with contacts, deals and activities...")
        for index, company in enumerate(COMPANIES):
            owner = users[owners[index]]
            # Tom's accounts stop before he leaves; everyone else's run until last week.
            end = departure_at - timedelta(days=2) if owner.username == "tberger" else self.now - timedelta(days=1)
            start = end - timedelta(days=rng.randint(40, 320))
            self._account(
                index=index, company=company, owner=owner, users=users, start=start, end=end,
                stages=stage_plan[index], reassign=index in reassign_from and owner.username != "tberger",
            )
            if (index + 1) % 10 == 0:
                self.stdout.write(f"  {index + 1} accounts")
        self.stdout.write("Departure: Tom Berger leaves; his book moves to Lucas Moreau.")
        with self.clock.at(departure_at):
            flows.user_deactivate(
                user=users["tberger"], by=users["admin"], successor=users["rep2"], note=DEPARTURE_NOTE,
            )
        # The successor introduces himself on a few inherited accounts.
        for account in Account.objects.filter(ownership_changes__reason=OwnershipChange.Reason.DEPARTURE)[:4]:
            services.activity_log(
                account=account, by=users["rep2"], kind=Activity.Kind.CALL,
                subject="Introduction call after taking over from Tom",
                body="Introduced myself as the new account owner; agreed to keep the monthly check-in.",
                occurred_at=departure_at + timedelta(days=rng.randint(2, 10), hours=rng.randint(0, 6)),
            )

    def _stage_plan(self, count: int) -> list[list[str]]:
        """Deals per account, with every stage well represented."""
        stages = ["lead", "qualified", "proposal", "negotiation", "won", "won", "lost"]
        plan = []
        for index in range(count):
            n = 1 + (index % 3 != 0) + (index % 7 == 0)
            plan.append([stages[(index * 3 + k * 2) % len(stages)] for k in range(n)])
        return plan

    def _moments(self, start: datetime, end: datetime, n: int) -> list[datetime]:
        span = (end - start).total_seconds()
        points = sorted(self.rng.uniform(0, span) for _ in range(n))
        return [(start + timedelta(seconds=p)).replace(second=0, microsecond=0) for p in points]

    def _account(
        self, *, index: int, company: tuple[str, ...], owner: Any, users: dict[str, Any],
        start: datetime, end: datetime, stages: list[str], reassign: bool,
    ) -> None:
        rng = self.rng
        name, industry, city, country, domain = company
        moments = iter(self._moments(start, end, 50))
        with self.clock.at(start):
            account = services.account_create(
                by=owner, name=name, industry=industry, city=city, country=country,
                website=f"https://www.{domain}",
                notes=f"{industry} customer based in {city}.",
            )

        # Contacts: most accounts have several; every sixth is single-threaded (one contact).
        n_contacts = 1 if index % 6 == 0 else rng.randint(2, 5)
        shapes = rng.sample(CONTACT_SHAPES, k=min(n_contacts, len(CONTACT_SHAPES)))
        contacts = []
        for role, titles in shapes:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            with self.clock.at(start + timedelta(hours=1)):
                contacts.append(services.contact_create(
                    account=account, by=owner, first_name=first, last_name=last, title=rng.choice(titles),
                    role=role, email=f"{_ascii(first)}.{_ascii(last)}@{domain}",
                    phone=f"+{rng.randint(30, 49)} {rng.randint(100, 999)} {rng.randint(100000, 999999)}",
                    preferred_channel=rng.choice(Contact.Channel.values), best_time=rng.choice(BEST_TIMES),
                    do_not_contact=rng.random() < 0.08,
                ))

        # The team: pre-sales joins a third of the accounts, the sales manager a few big ones.
        if index % 3 == 1:
            with self.clock.at(next(moments)):
                services.team_member_add(account=account, by=owner, user=users["presales"], role="presales")
        if index % 8 == 2:
            with self.clock.at(next(moments)):
                services.team_member_add(
                    account=account, by=users["salesmgr"], user=users["salesmgr"], role="sales_manager"
                )

        # Deals, each walked through the pipeline with a few activities in between.
        won_any = False
        topics = rng.sample(DEAL_TOPICS, k=len(stages))
        for topic, target in zip(topics, stages, strict=True):
            won_any |= self._deal(account=account, owner=owner, target=target, moments=moments, topic=topic)

        # A few more touches on the timeline.
        for _ in range(rng.randint(1, 4)):
            self._activity(account=account, by=owner, moment=next(moments))

        # Someone left the customer's organisation (kept for history).
        if len(contacts) >= 3 and index % 4 == 1:
            leaver = contacts[-1]
            with self.clock.at(next(moments)):
                flows.contact_update(
                    contact=leaver, by=owner, is_active=False, is_primary=False,
                    left_at=(end - timedelta(days=rng.randint(5, 30))).date(),
                )

        if won_any:
            with self.clock.at(next(moments)):
                services.team_member_join(
                    account=account, user=users["delivery"], role="delivery_owner", by=users["deliverymgr"]
                )
                lifecycle = rng.choice([Account.Lifecycle.ONBOARDING, Account.Lifecycle.ACTIVE])
                services.account_update(account=account, by=owner, lifecycle=lifecycle)
            self._activity(account=account, by=users["delivery"], moment=next(moments), kinds=["call", "meeting"])
        elif index % 11 == 4:
            with self.clock.at(next(moments)):
                services.account_update(account=account, by=owner, lifecycle=Account.Lifecycle.CHURNED)

        if reassign:
            to_user = users["rep2"] if owner.username == "rep" else users["rep"]
            with self.clock.at(next(moments)):
                flows.account_reassign(
                    account=account, to_user=to_user, by=users["salesmgr"],
                    reason=rng.choice([OwnershipChange.Reason.REASSIGNMENT, OwnershipChange.Reason.TERRITORY]),
                    note=rng.choice(HANDOVER_NOTES),
                )
            self._activity(account=account, by=to_user, moment=next(moments), kinds=["call"])

    def _deal(
        self, *, account: Account, owner: Any, target: str, moments: Iterator[datetime], topic: str,
    ) -> bool:
        rng = self.rng
        items: list[dict[str, Any]] = []
        for product, price in rng.sample(PRODUCTS, k=rng.randint(1, 2)):
            quantity = Decimal(rng.choice([1, 2, 5, 10, 25]))
            items.append({"kind": "product", "name": product, "quantity": quantity, "unit_price": price})
        for service, price in rng.sample(SERVICES, k=rng.randint(1, 2)):
            quantity = Decimal(rng.choice([1, 1, 2, 3]))
            items.append({"kind": "service", "name": service, "quantity": quantity, "unit_price": price})
        value = sum((i["quantity"] * i["unit_price"] for i in items), Decimal("0"))
        opened = next(moments)
        with self.clock.at(opened):
            deal = services.deal_create(
                account=account, by=owner, name=f"{account.name.split()[0]} {topic}",
                value=value, currency=rng.choice(["EUR", "EUR", "GBP"]),
                expected_close_date=(self.now + timedelta(days=rng.randint(-30, 120))).date(),
                line_items=items,
            )
        self._activity(account=account, by=owner, moment=next(moments), deal=deal, pick=CALLS[0])
        path = {"lead": [], "qualified": ["qualified"], "proposal": ["qualified", "proposal"],
                "negotiation": ["qualified", "proposal", "negotiation"]}
        walk = path.get(target, ["qualified", "proposal", "negotiation"][: rng.randint(1, 3)])
        for stage in walk:
            with self.clock.at(next(moments)):
                deal = services.deal_move(deal=deal, by=owner, to=stage)
            self._activity(account=account, by=owner, moment=next(moments), deal=deal)
        if target == "won":
            with self.clock.at(next(moments)):
                flows.deal_win(deal=deal, by=owner)
            return True
        if target == "lost":
            with self.clock.at(next(moments)):
                services.deal_lose(deal=deal, by=owner, reason=rng.choice(LOST_REASONS))
        return False

    def _activity(
        self, *, account: Account, by: Any, moment: datetime, deal: Deal | None = None,
        kinds: list[str] | None = None, pick: tuple[str, str] | None = None,
    ) -> None:
        kind = "call" if pick else self.rng.choice(kinds or ["call", "meeting", "email", "note"])
        # The discovery call opens a deal; a negotiation meeting needs one.
        choices = {"call": CALLS[1:], "meeting": MEETINGS if deal else MEETINGS[:-1], "email": EMAILS, "note": NOTES}
        subject, body = pick or self.rng.choice(choices[kind])
        with self.clock.at(moment):
            services.activity_log(account=account, by=by, kind=kind, subject=subject, body=body,
                                  occurred_at=moment, deal=deal)


def _ascii(name: str) -> str:
    """Tomás -> tomas, for the local part of an email address."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
