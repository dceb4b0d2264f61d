"""Bench promises and handovers for `manage.py seed_scale` (after the crm part).

Every bench won deal without a handover gets one, with the promises made while selling, played
forward from the moment the deal was won as the services would have recorded it: the draft, the
submission, sales' review and approval, delivery's review and acceptance, with some handovers
returned by sales or rejected by delivery on the way (the `handover.returned` and
`handover.rejected` timeline events the performance dashboard counts). Each step takes a few
hours to a few days; a handover is in the state its last step before now left it, so recently
won deals are still drafts, submitted or waiting for delivery (some past their deadline).

Acceptance writes what `handover_accept` writes in crm: the delivery owner joins the team and
becomes the account's owner (the previous owner stays as sales rep), a "handover to delivery"
ledger row, the account in onboarding. Promises are active, reset with the customer or
withdrawn here; delivery's part marks them kept or broken. One promise in eight is made by a
pre-sales consultant on a rep's deal. No outbox rows: nothing is owed to anyone any more, and a
worker started on the benchmark database would otherwise send a burst of stale emails.

Runs first of the three parts after crm's: delivery and touchpoints read the accepted handovers
it writes.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from crm import roles
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, OwnershipChange, UserProfile
from demo.scale import bulk
from demo.story.handover import EXPECTATIONS, PROMISES, RISKS
from handover.models import Handover, HandoverContact, Promise, PromiseReview
from handover.services import add_working_days

PRESALES, SALES_MANAGERS, DELIVERY_MANAGERS, DELIVERY = 5, 2, 2, 20
ROWS = [Handover, HandoverContact, Promise, PromiseReview, AccountTeamMember, OwnershipChange, Activity]
STATE_LABELS = dict(Handover.State.choices)
ROLE_LABELS = dict(AccountTeamMember.Role.choices)
CONTACT_ROLES = dict(Contact.Role.choices)
PROMISE_KINDS = dict(Promise.Kind.choices)
PROMISE_STATES = dict(Promise.State.choices)
RETURN_REASONS = [
    "Add the customer's go-live constraints.",
    "The expectations are in our words, not the customer's; quote them.",
    "Name the customer's project lead among the contacts.",
]
REJECT_REASONS = [
    "No installer free before next month.",
    "The integration promise needs a technical review first.",
    "The scope does not match the order; clarify with the customer.",
]
RESET_EXPECTATIONS = [
    "Go-live moves to the following month; the customer agreed in writing.",
    "The connector comes as a paid add-on after go-live; agreed on a call.",
    "Training for 8 people instead of 12; the rest follow in the next quarter.",
]
WITHDRAWN_REASONS = ["Not something we offer; the customer was told.", "Recorded twice by mistake."]
REVIEW_COMMENTS: dict[str, str] = {
    PromiseReview.Verdict.AT_RISK: "Tight; keep an eye on it.",
    PromiseReview.Verdict.NOT_ACCEPTABLE: "We cannot commit to this; reset it with the customer.",
    PromiseReview.Verdict.NOT_FEASIBLE: "Not feasible with the current team; reset it with the customer.",
}


class People:
    """The bench people beyond the reps: pre-sales consultants, sales and delivery managers, the
    delivery team (made when missing; the delivery team reports to the delivery managers)."""

    def __init__(self) -> None:
        self.presales = bulk.bench_users(bulk.BENCH_PRESALES, PRESALES, role=roles.PRESALES, last_name="Presales")
        self.sales_managers = bulk.bench_users(
            bulk.BENCH_SALES_MANAGERS, SALES_MANAGERS, role=roles.SALES_MANAGER, last_name="Sales manager"
        )
        self.delivery_managers = bulk.bench_users(
            bulk.BENCH_DELIVERY_MANAGERS, DELIVERY_MANAGERS, role=roles.DELIVERY_MANAGER, last_name="Delivery manager"
        )
        self.delivery = bulk.bench_users(bulk.BENCH_DELIVERY, DELIVERY, role=roles.DELIVERY_TEAM, last_name="Delivery")
        for index, pk in enumerate(self.delivery):
            manager = self.delivery_managers[index % DELIVERY_MANAGERS]
            UserProfile.objects.filter(user_id=pk, manager__isnull=True).update(manager_id=manager)
        for index, pk in enumerate(self.presales):
            manager = self.sales_managers[index % SALES_MANAGERS]
            UserProfile.objects.filter(user_id=pk, manager__isnull=True).update(manager_id=manager)


def seed(*, owners: list[int], now: datetime, use_copy: bool, batch: int, progress: bool, stdout: Any) -> None:
    deals = list(
        Deal.objects.filter(stage=Deal.Stage.WON, sold_by__in=owners, handover__isnull=True)
        .order_by("pk")
        .values("pk", "account_id", "name", "owner_id", "sold_by_id", "closed_at", "created_at")
    )
    if not deals:
        stdout.write("Handovers: every bench won deal has its handover; nothing to do.")
        return
    people = People()
    bulk.in_batches(
        "Handovers", deals, lambda chunk: Batch(chunk, people=people, now=now, use_copy=use_copy).run(),
        batch=batch, unit="deal", stdout=stdout, progress=progress,
    )
    bulk.analyze([Handover, HandoverContact, Promise, PromiseReview])


class Batch:
    def __init__(self, deals: list[dict[str, Any]], *, people: People, now: datetime, use_copy: bool) -> None:
        self.deals, self.people, self.now, self.use_copy = deals, people, now, use_copy
        account_ids = {d["account_id"] for d in deals}
        accounts: Any = Account.objects.filter(pk__in=account_ids).values("pk", "owner_id", "lifecycle")
        self.accounts: dict[int, dict[str, Any]] = {a["pk"]: a for a in accounts}
        self.contacts: dict[int, list[dict[str, Any]]] = {}
        contacts: Any = Contact.objects.filter(account_id__in=account_ids, is_active=True).order_by("pk")
        for c in contacts.values("pk", "account_id", "role"):
            self.contacts.setdefault(c["account_id"], []).append(c)
        self.owner_rows = dict(
            AccountTeamMember.objects.current()
            .filter(account_id__in=account_ids, role=AccountTeamMember.Role.OWNER)
            .values_list("account_id", "pk")
        )
        users = {a["owner_id"] for a in self.accounts.values()} | {d["owner_id"] for d in deals}
        self.names = bulk.user_names(users | set(people.delivery) | set(people.presales))
        self.deadline_days = settings.KEEPWARM["HANDOVER_ACCEPT_WORKING_DAYS"]
        self.rows = bulk.Rows(ROWS, use_copy=use_copy)
        self.ended: list[tuple[Any, ...]] = []  # owner team periods that end at acceptance
        self.accounts_changed: list[tuple[Any, ...]] = []

    def run(self) -> None:
        for deal in self.deals:
            self.deal(deal)
        # The owners' current team periods end first: at most one current owner per account.
        bulk.update(AccountTeamMember, ["ended_at"], self.ended, use_copy=self.use_copy)
        self.rows.write()
        bulk.update(Account, ["owner_id", "lifecycle", "updated_at"], self.accounts_changed, use_copy=self.use_copy)

    # --- One won deal -------------------------------------------------------------------------

    def deal(self, deal: dict[str, Any]) -> None:
        rng = random.Random(f"handover:{deal['pk']}")
        rep, won, account = deal["owner_id"], deal["closed_at"], deal["account_id"]
        contacts = self.contacts.get(account, [])
        steps = self.steps(rng, won)
        reached = [s for s in steps if s[0] <= self.now]
        submitted = reached[0][0] if reached else None
        accepted = next((at for at, to in reached if to == Handover.State.ACCEPTED), None)
        delivery_owner = self.people.delivery[rng.randrange(DELIVERY)]
        delivery_manager = self.people.delivery_managers[rng.randrange(DELIVERY_MANAGERS)]
        sales_manager = self.people.sales_managers[rng.randrange(SALES_MANAGERS)]
        promises = self.promises(rng, deal, contacts, end=accepted or self.now, submitted=submitted)

        # The handover row: what its last step left. The reviews come just before the first
        # approval (sales) and the acceptance (delivery).
        state: str = Handover.State.DRAFT
        fields = self.handover_fields(rng, deal, submitted, delivery_owner)
        reviews: list[tuple[dict[str, Any], str, str, datetime, int]] = []
        moves = []
        for index, (at, to) in enumerate(reached):
            by = {"submitted": rep, "returned": sales_manager, "sales_approved": sales_manager}.get(
                to, delivery_manager
            )
            reason = ""
            if to in (Handover.State.RETURNED, Handover.State.REJECTED):
                reason = rng.choice(RETURN_REASONS if to == Handover.State.RETURNED else REJECT_REASONS)
                fields["last_reason"] = reason
            if to == Handover.State.SUBMITTED:
                fields["submitted_at"] = at
            elif to == Handover.State.SALES_APPROVED:
                if not any(r[1] == PromiseReview.Kind.SALES for r in reviews):
                    reviews += self.reviews(rng, promises, PromiseReview.Kind.SALES, by, reached[index - 1][0], at,
                                            deal)
                fields["approved_at"], fields["accept_deadline"] = at, add_working_days(at, self.deadline_days)
            elif to == Handover.State.REJECTED:
                fields["approved_at"] = fields["accept_deadline"] = None
            elif to == Handover.State.ACCEPTED:
                reviews += self.reviews(rng, promises, PromiseReview.Kind.FEASIBILITY, by, fields["approved_at"], at,
                                        deal)
                fields["accepted_at"], fields["delivery_owner_id"] = at, delivery_owner
                fields["acceptance_notified_at"] = min(at + timedelta(minutes=1), self.now)
            moves.append((at, state, to, by, reason))
            state = to
        fields["escalated_at"] = self.escalation(steps)
        handover = self.rows.add(Handover, deal_id=deal["pk"], account_id=account, rep_id=rep, state=state, **fields)
        for c in contacts:
            self.rows.add(HandoverContact, handover_id=handover, contact_id=c["pk"],
                          delivery_role=CONTACT_ROLES.get(c["role"], ""))

        # A pre-sales consultant joined the account team before making a promise.
        joined: dict[int, datetime] = {}
        for promise in promises:
            if promise["made_by_id"] != deal["sold_by_id"]:
                maker, at = promise["made_by_id"], promise["made_at"] - timedelta(hours=1)
                joined[maker] = min(joined.get(maker, at), at)
        for maker, at in joined.items():
            self.join(account, maker, AccountTeamMember.Role.PRESALES, at=at, by=rep)

        # The promises (now that their states are known), their reviews, then the timeline.
        for promise in promises:
            events = promise.pop("_events", [])
            promise["pk"] = self.rows.add(Promise, **promise)
            self.promise_event(
                promise, "promise.recorded", promise["made_at"], promise["made_by_id"],
                subject=f"Promise recorded ({PROMISE_KINDS[promise['kind']]}): {promise['description'][:120]}",
                data={"promise": promise["pk"], "made_by": promise["made_by_id"], "source": promise["source"]},
            )
            for event in events:
                event(promise["pk"])
        for promise, kind, verdict, at, by in reviews:
            comment = REVIEW_COMMENTS.get(verdict, "")
            review = self.rows.add(PromiseReview, promise_id=promise["pk"], kind=kind, verdict=verdict,
                                   comment=comment, reviewer_id=by, created_at=at)
            self.promise_event(
                promise, f"promise.review.{kind}", at, by, body=comment,
                subject=f"{PromiseReview.Kind(kind).label}: {PromiseReview.Verdict(verdict).label} — "
                f"{promise['description'][:100]}",
                data={"promise": promise["pk"], "review": review, "verdict": verdict},
            )
        self.rows.event(account=account, deal=deal["pk"], event_type="handover.created", at=won, actor=rep,
                        subject=f"Handover drafted for {deal['name']}",
                        data={"handover": handover, "to": Handover.State.DRAFT})
        for at, before, to, by, reason in moves:
            data: dict[str, Any] = {"handover": handover, "from": before, "to": to}
            if to == Handover.State.ACCEPTED:
                data["delivery_owner"] = delivery_owner
                self.accept(deal, at=at, to_user=delivery_owner, by=by, expectations=fields["customer_expectations"])
            self.rows.event(
                account=account, deal=deal["pk"], event_type=f"handover.{to}", at=at, actor=by, body=reason,
                subject=f"Handover for {deal['name']}: {STATE_LABELS[before]} -> {STATE_LABELS[to]}", data=data,
            )

    def steps(self, rng: random.Random, won: datetime) -> list[tuple[datetime, str]]:
        """The handover's whole path from the won deal on (some steps may lie in the future).
        Most steps take hours to days, some weeks (a busy rep, a manager away, delivery short of
        people: the ones still in progress today). One handover in a hundred is never
        submitted; one in eight is returned by sales once, one in sixteen rejected by delivery
        once; each comes back days later."""
        if rng.random() < 0.01:
            return []

        def wait(quick: tuple[float, float, float], slow: tuple[float, float, float], p_slow: float) -> timedelta:
            return bulk.days(rng, *(slow if rng.random() < p_slow else quick))

        steps = []
        at = won + wait((0.2, 8, 1.5), (8, 45, 15), 0.15)
        steps.append((at, Handover.State.SUBMITTED))
        if rng.random() < 0.125:
            at += wait((0.1, 2, 0.5), (2, 10, 4), 0.1)
            steps.append((at, Handover.State.RETURNED))
            at += wait((0.3, 4, 1), (4, 20, 8), 0.2)
            steps.append((at, Handover.State.SUBMITTED))
        at += wait((0.05, 2, 0.4), (2, 12, 4), 0.1)
        steps.append((at, Handover.State.SALES_APPROVED))
        if rng.random() < 0.0625:
            at += wait((0.1, 2.5, 0.8), (2.5, 10, 4), 0.2)
            steps.append((at, Handover.State.REJECTED))
            at += wait((0.5, 5, 1.5), (5, 20, 8), 0.2)
            steps.append((at, Handover.State.SUBMITTED))
            at += bulk.days(rng, 0.05, 1.5, 0.3)
            steps.append((at, Handover.State.SALES_APPROVED))
        at += wait((0.05, 4, 0.8), (4, 30, 8), 0.15)  # the deadline is 2 working days
        steps.append((at, Handover.State.ACCEPTED))
        return [(s.replace(microsecond=0), to) for s, to in steps]

    def escalation(self, steps: list[tuple[datetime, str]]) -> datetime | None:
        """The dispatcher escalates an approved handover once, a few minutes past its deadline,
        when delivery had not answered by then."""
        for index, (at, to) in enumerate(steps):
            if to != Handover.State.SALES_APPROVED or at > self.now:
                continue
            escalated = add_working_days(at, self.deadline_days) + timedelta(minutes=2)
            answered = steps[index + 1][0] if index + 1 < len(steps) else None
            if escalated <= self.now and (answered is None or answered > escalated):
                return escalated
        return None

    def handover_fields(
        self, rng: random.Random, deal: dict[str, Any], submitted: datetime | None, delivery_owner: int
    ) -> dict[str, Any]:
        written = submitted is not None or rng.random() < 0.5
        won = deal["closed_at"]
        meeting = (won + (submitted - won) * rng.uniform(0.5, 0.95)).replace(microsecond=0) if submitted else None
        return {
            "purchased": f"{deal['name']}: licences, implementation and training for the first year.",
            "customer_expectations": rng.choice(EXPECTATIONS) if written else "",
            "risks": rng.choice(RISKS) if written else "",
            "meeting_at": meeting, "meeting_held": meeting is not None,
            "meeting_minutes": "Walked the delivery team through what was sold and every promise." if meeting else "",
            "proposed_delivery_owner_id": delivery_owner if submitted else None,
            "created_at": won, "submitted_at": None, "approved_at": None, "accept_deadline": None,
            "accepted_at": None, "delivery_owner_id": None, "acceptance_notified_at": None, "last_reason": "",
        }

    # --- Promises and their reviews -----------------------------------------------------------

    def promises(
        self, rng: random.Random, deal: dict[str, Any], contacts: list[dict[str, Any]], *, end: datetime,
        submitted: datetime | None,
    ) -> list[dict[str, Any]]:
        """The promises made while selling (rows written later, once their states are known):
        active, or reset with the customer or withdrawn before acceptance."""
        made = []
        opened, won = deal["created_at"], deal["closed_at"]
        count = rng.choices([0, 1, 2, 3], weights=[10, 30, 35, 25])[0]
        for kind, source, text in rng.sample(PROMISES, k=count):
            at = (opened + (won - opened) * rng.uniform(0.1, 0.95)).replace(microsecond=0)
            maker = self.people.presales[rng.randrange(PRESALES)] if rng.random() < 0.125 else deal["sold_by_id"]
            promise: dict[str, Any] = {
                "deal_id": deal["pk"], "account_id": deal["account_id"], "kind": kind, "description": text,
                "made_to_id": rng.choice(contacts)["pk"] if contacts else None,
                "due_date": (won + timedelta(days=rng.randint(30, 120))).date() if kind == "timeline" else None,
                "source": source, "made_by_id": maker, "made_at": at, "state": Promise.State.ACTIVE,
            }
            fate = rng.random()
            if fate < 0.05:
                before = submitted or self.now
                self.withdraw(promise, at=at + (before - at) * rng.uniform(0.2, 0.9), by=deal["owner_id"], rng=rng)
            elif fate < 0.11:
                self.reset(promise, at=at + (end - at) * rng.uniform(0.2, 0.9), by=deal["owner_id"], rng=rng,
                           contacts=contacts)
            made.append(promise)
        return made

    def promise_event(self, promise: dict[str, Any], event_type: str, at: datetime, by: int, *, subject: str,
                      data: dict[str, Any], body: str = "") -> None:
        self.rows.event(account=promise["account_id"], deal=promise["deal_id"], event_type=event_type, at=at,
                        actor=by, subject=subject, body=body, data=data)

    def withdraw(self, promise: dict[str, Any], *, at: datetime, by: int, rng: random.Random) -> None:
        reason = rng.choice(WITHDRAWN_REASONS)
        promise.update(state=Promise.State.WITHDRAWN, withdrawn_reason=reason)
        self.state_event(promise, at, by, reason)

    def reset(self, promise: dict[str, Any], *, at: datetime, by: int, rng: random.Random,
              contacts: list[dict[str, Any]]) -> None:
        expectation = rng.choice(RESET_EXPECTATIONS)
        at = min(at, self.now)
        promise.update(state=Promise.State.RESET, reset_expectation=expectation,
                       reset_agreed_by_id=rng.choice(contacts)["pk"] if contacts else None,
                       reset_agreed_on=at.date())
        self.state_event(promise, at, by, expectation)

    def state_event(self, promise: dict[str, Any], at: datetime, by: int, reason: str) -> None:
        """The event of a promise leaving the active state, written once the promise has its id."""
        state, description = promise["state"], promise["description"]
        at = at.replace(microsecond=0)

        def event(pk: int) -> None:
            self.promise_event(
                promise, f"promise.{state}", at, by, subject=f"Promise {PROMISE_STATES[state].lower()}: "
                f"{description[:120]}", body=reason, data={"promise": pk, "from": Promise.State.ACTIVE, "to": state},
            )

        promise.setdefault("_events", []).append(event)

    def reviews(
        self, rng: random.Random, promises: list[dict[str, Any]], kind: str, by: int, after: datetime,
        before: datetime, deal: dict[str, Any],
    ) -> list[tuple[dict[str, Any], str, str, datetime, int]]:
        """A review of every promise still standing, between the previous step and the approval
        (sales) or acceptance (delivery). A promise found not acceptable or not feasible is
        reset with the customer before the handover moves on, as the blockers require."""
        verdicts = PromiseReview.VERDICTS[PromiseReview.Kind(kind)]
        planned: list[tuple[dict[str, Any], str, str, datetime, int]] = []
        for promise in promises:
            if promise["state"] == Promise.State.WITHDRAWN:
                continue
            at = (after + (before - after) * rng.uniform(0.1, 0.6)).replace(microsecond=0)
            verdict = rng.choices(verdicts, weights=[85, 11, 4])[0]
            planned.append((promise, kind, verdict, at, by))
            bad = verdict in (PromiseReview.Verdict.NOT_ACCEPTABLE, PromiseReview.Verdict.NOT_FEASIBLE)
            if bad and promise["state"] == Promise.State.ACTIVE:
                self.reset(promise, at=at + (before - at) / 2, by=deal["owner_id"], rng=rng,
                           contacts=self.contacts.get(deal["account_id"], []))
        return planned

    # --- Acceptance's crm side ------------------------------------------------------------------

    def accept(self, deal: dict[str, Any], *, at: datetime, to_user: int, by: int, expectations: str) -> None:
        """What handover_accept writes in crm: the delivery owner on the team, then owner of the
        account (the previous owner stays as sales rep), the ledger row, onboarding."""
        account = self.accounts[deal["account_id"]]
        from_user = account["owner_id"]
        self.join(account["pk"], to_user, AccountTeamMember.Role.DELIVERY_OWNER, at=at, by=by)
        current = self.owner_rows.pop(account["pk"], None)
        if current is not None:
            self.ended.append((current, at))
        self.rows.add(AccountTeamMember, account_id=account["pk"], user_id=to_user, role=AccountTeamMember.Role.OWNER,
                      started_at=at, ended_at=None)
        self.join(account["pk"], from_user, AccountTeamMember.Role.SALES_REP, at=at, by=by)
        note = f"Handover of {deal['name']} accepted. Customer expectations: {expectations}"[:5000]
        change = self.rows.add(
            OwnershipChange, account_id=account["pk"], from_user_id=from_user, to_user_id=to_user, changed_at=at,
            reason=OwnershipChange.Reason.HANDOVER, note=note, assigned_by_id=by, notified_at=at,
        )
        self.rows.event(
            account=account["pk"], event_type="account.owner_changed", at=at, actor=by, body=note,
            subject=f"Owner changed from {self.names.get(from_user, 'nobody')} to {self.names[to_user]} "
            f"({OwnershipChange.Reason.HANDOVER.label})",
            data={"from": from_user, "to": to_user, "reason": OwnershipChange.Reason.HANDOVER, "change": change},
        )
        lifecycle = account["lifecycle"]
        if lifecycle in (Account.Lifecycle.PROSPECT, Account.Lifecycle.CUSTOMER):
            lifecycle = Account.Lifecycle.ONBOARDING
        account.update(owner_id=to_user, lifecycle=lifecycle)
        self.accounts_changed.append((account["pk"], to_user, lifecycle, at))

    def join(self, account: int, user: int, role: str, *, at: datetime, by: int) -> None:
        self.rows.add(AccountTeamMember, account_id=account, user_id=user, role=role, started_at=at, ended_at=None)
        self.rows.event(
            account=account, event_type="account.team_changed", at=at, actor=by,
            subject=f"{self.names.get(user, 'Someone')} joined the team as {ROLE_LABELS[role]}",
            data={"user": user, "role": role, "change": "joined"},
        )

