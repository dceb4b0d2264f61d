"""Bench check-ups for `manage.py seed_scale` (the last part).

Every accepted bench handover without check-ups gets the agendas `agenda_schedule` would have
scheduled, from the agenda templates in the database: the acceptance steps (due from the
acceptance date) and, when its delivery is complete, the go-live steps (due from completion),
each owned by the rep (thank-you and renewal steps) or the delivery owner, due at the start of
its owner's working day, with the account's reachable contact and channel.

Each check-up whose due time has passed is then closed as people do: most done within a day of
their due time with the customer's satisfaction, some done late, some missed (closed by the
dispatcher two days past due), a few skipped or cancelled; the ones still inside the two-day
grace period may still be open (overdue). Surveys went out at the due time of the steps that send
one (a link per survey); about half the customers answered within days. An unhappy answer (2/5
or less, not as expected, or a complaint) raised a check-up problem, as `survey_answer` does, and
so did some unhappy check-ups. No outbox rows (see demo.scale.handover).

Runs last: it reads the accepted handovers handover's part wrote and the projects (and their
completion) delivery's part wrote.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from crm.models import Activity, Contact, UserProfile
from customer_links.models import CustomerLink
from delivery.models import Problem, Project
from demo.scale import bulk
from demo.scale.delivery import add_problem, problem_events
from demo.story.touchpoints import OUTCOMES
from handover.models import Handover
from touchpoints.events import scheduled_subject
from touchpoints.models import REP_KINDS, AgendaStep, Kind, SurveyResponse, Touchpoint
from touchpoints.services import channel_for, working_time

ROWS = [CustomerLink, Problem, Touchpoint, SurveyResponse, Activity]
KIND_LABELS = dict(Kind.choices)
# How a check-up whose time has come ended (weights), and how long after its due time.
ENDINGS = {"on_time": 70, "late": 12, "missed": 9, "skipped": 5, "cancelled": 2, "open": 2}
SATISFACTION = {5: 38, 4: 38, 3: 15, 2: 6, 1: 3}
SKIP_REASONS = ["The customer asked to combine it with the next check-up.", "Covered in the weekly project call."]
CANCEL_REASONS = ["The customer's contact is on leave; the next check-up covers it."]
GENERIC_NOTES = [(4, True, "Check-up held; nothing new to report."), (3, True, "Short call; they are busy but fine.")]
SURVEY_COMMENTS = {
    5: "Great team, everything as agreed.", 4: "Good so far; a few small things to settle.",
    3: "OK, but we expected more guidance.", 2: "Several things slipped and nobody told us in advance.",
    1: "This is not what we were sold.",
}
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0"


def seed(*, owners: list[int], now: datetime, use_copy: bool, batch: int, progress: bool, stdout: Any) -> None:
    scheduled = Touchpoint.objects.filter(handover=OuterRef("pk"))
    handovers = list(
        Handover.objects.filter(state=Handover.State.ACCEPTED, deal__sold_by__in=owners)
        .filter(~Exists(scheduled))
        .order_by("pk")
        .values("pk", "account_id", "deal_id", "rep_id", "rep__is_active", "delivery_owner_id", "accepted_at")
    )
    if not handovers:
        stdout.write("Check-ups: every accepted bench handover has its check-ups; nothing to do.")
        return
    steps: list[Any] = list(
        AgendaStep.objects.filter(template__is_active=True).order_by("template__name", "position").values(
            "pk", "anchor", "offset_days", "kind", "channel", "sends_survey", "objectives"
        )
    )
    bulk.in_batches(
        "Check-ups", handovers, lambda chunk: Batch(chunk, steps=steps, now=now, use_copy=use_copy).run(),
        batch=batch, unit="handover", stdout=stdout, progress=progress,
    )
    bulk.analyze([Touchpoint, SurveyResponse, Problem])


class Batch:
    def __init__(self, handovers: list[dict[str, Any]], *, steps: list[dict[str, Any]], now: datetime,
                 use_copy: bool) -> None:
        self.handovers, self.steps, self.now, self.use_copy = handovers, steps, now, use_copy
        account_ids = {h["account_id"] for h in handovers}
        projects: Any = Project.objects.filter(handover_id__in=[h["pk"] for h in handovers])
        self.projects: dict[int, dict[str, Any]] = {
            p["handover_id"]: p for p in projects.values("pk", "handover_id", "state", "completed_at")
        }
        # The account's contact for check-ups (touchpoints.services.contact_for): the primary
        # one unless unreachable, else another reachable one, in the contacts' order.
        self.contact: dict[int, dict[str, Any]] = {}
        contacts: Any = Contact.objects.filter(account_id__in=account_ids, is_active=True, do_not_contact=False)
        for c in contacts.values(
            "pk", "account_id", "is_primary", "preferred_channel", "first_name", "last_name"
        ).order_by("account_id", "-is_primary", "last_name", "first_name", "pk"):
            self.contact.setdefault(c["account_id"], c)
        # Each owner's working hours (touchpoints.services.working_time reads the profile).
        users = {h["rep_id"] for h in handovers} | {h["delivery_owner_id"] for h in handovers}
        self.people = {
            user: SimpleNamespace(profile=SimpleNamespace(time_zone=zone, work_starts=starts))
            for user, zone, starts in UserProfile.objects.filter(user_id__in=users).values_list(
                "user_id", "time_zone", "work_starts"
            )
        }
        self.grace = timedelta(hours=settings.KEEPWARM["TOUCHPOINT_GRACE_HOURS"])
        self.link_days = timedelta(days=settings.KEEPWARM["SURVEY_LINK_DAYS"])
        self.rows = bulk.Rows(ROWS, use_copy=use_copy)

    def run(self) -> None:
        for handover in self.handovers:
            rng = random.Random(f"touchpoints:{handover['pk']}")
            project = self.projects.get(handover["pk"])
            self.agenda(rng, handover, project, "accepted", handover["accepted_at"])
            if project is not None and project["state"] == Project.State.COMPLETE:
                self.agenda(rng, handover, project, "go_live", project["completed_at"])
        self.rows.write()

    def agenda(self, rng: random.Random, handover: dict[str, Any], project: dict[str, Any] | None, anchor: str,
               anchor_at: datetime) -> None:
        account = handover["account_id"]
        contact = self.contact.get(account)
        start = timezone.localdate(anchor_at)
        count = 0
        for step in self.steps:
            if step["anchor"] != anchor:
                continue
            rep_step = step["kind"] in REP_KINDS and handover["rep__is_active"]
            owner = handover["rep_id"] if rep_step else handover["delivery_owner_id"]
            due = working_time(self.people.get(owner), start + timedelta(days=step["offset_days"]))
            if step["offset_days"] == 0 and due < anchor_at:
                due = anchor_at  # today's thank-you note is due now, not this morning
            title = f"{KIND_LABELS[step['kind']]}: day {step['offset_days']}" + (
                " after go-live" if anchor == "go_live" else ""
            )
            touchpoint = {
                "account_id": account, "handover_id": handover["pk"], "project_id": project["pk"] if project else None,
                "step_id": step["pk"], "kind": step["kind"], "title": title[:200], "objectives": step["objectives"],
                "owner_id": owner, "contact_id": contact["pk"] if contact else None,
                "channel": channel_for(step["channel"], SimpleNamespace(**contact) if contact else None),  # type: ignore[arg-type]
                "due_at": due, "sends_survey": step["sends_survey"] and contact is not None, "version": 1,
                "state": Touchpoint.State.SCHEDULED, "created_at": anchor_at, "closed_at": None,
                "satisfaction": None, "as_expected": None, "notes": "", "reason": "", "completed_by_id": None,
                "follow_up_of_id": None,
            }
            self.checkup(rng, touchpoint, contact, deal=handover["deal_id"])
            count += 1
        if count:
            when = "go-live" if anchor == "go_live" else "acceptance"
            self.rows.event(
                account=account, deal=handover["deal_id"], event_type="touchpoints.agenda_scheduled", at=anchor_at,
                actor_label="Keepwarm", subject=scheduled_subject(count, when),
                data={"handover": handover["pk"], "anchor": anchor, "count": count},
            )

    def checkup(self, rng: random.Random, touchpoint: dict[str, Any], contact: dict[str, Any] | None, *,
                deal: int) -> None:
        """One check-up: its ending if its time has come, its survey and the customer's answer."""
        due, owner = touchpoint["due_at"], touchpoint["owner_id"]
        ending = rng.choices(list(ENDINGS), weights=list(ENDINGS.values()))[0]
        closed = {
            "on_time": due + bulk.days(rng, -0.1, 0.95, 0.1),
            "late": due + bulk.days(rng, 1.05, 6, 1.8),
            "missed": due + self.grace + timedelta(minutes=rng.randint(1, 15)),
            "skipped": due + bulk.days(rng, -1, 1, 0),
            "cancelled": due - bulk.days(rng, 0, 3, 1),
            "open": None,
        }[ending]
        if closed is not None:
            closed = max(closed, touchpoint["created_at"]).replace(microsecond=0)
        if due <= self.now and closed is not None and closed <= self.now:
            if ending in ("on_time", "late"):
                satisfaction, as_expected, notes = self.outcome(rng, touchpoint["kind"])
                touchpoint.update(state=Touchpoint.State.DONE, satisfaction=satisfaction, as_expected=as_expected,
                                  notes=notes, completed_by_id=owner)
            elif ending == "missed":
                touchpoint["state"] = Touchpoint.State.MISSED
            else:
                touchpoint.update(state=ending, reason=rng.choice(SKIP_REASONS if ending == "skipped"
                                                                  else CANCEL_REASONS))
            touchpoint["closed_at"] = closed
        pk = self.rows.add(Touchpoint, **touchpoint)
        state, account = touchpoint["state"], touchpoint["account_id"]
        if state != Touchpoint.State.SCHEDULED:
            data: dict[str, Any] = {"touchpoint": pk, "state": state}
            if state == Touchpoint.State.DONE:
                data.update(satisfaction=touchpoint["satisfaction"], as_expected=touchpoint["as_expected"])
            by = None if state == Touchpoint.State.MISSED else owner
            self.rows.event(
                account=account, event_type=f"touchpoints.{state}", at=touchpoint["closed_at"], actor=by,
                actor_label="" if by is not None else "Keepwarm", body=touchpoint["reason"],
                subject=f"{touchpoint['title']}: {state.replace('_', ' ')}", data=data,
            )
        if state == Touchpoint.State.DONE and touchpoint["satisfaction"] <= 2 and rng.random() < 0.2:
            # The owner raised a problem with the outcome (touchpoint_complete's problem_title).
            problem = add_problem(
                self.rows, rng, self.now, account=account, project=touchpoint["project_id"],
                title=f"Check-up: customer unhappy ({touchpoint['title']})"[:200], description=touchpoint["notes"],
                category=Problem.Category.OTHER, severity=Problem.Severity.HIGH, source=Problem.Source.CHECKUP,
                raised_by=owner, raised_by_label="", raised_at=touchpoint["closed_at"], resolved_by=owner,
                resolution="Called the customer back with the delivery owner; agreed next steps.",
            )
            problem_events(self.rows, problem, deal=deal if touchpoint["project_id"] else None, owner=owner)
        surveyed = touchpoint["sends_survey"] and due <= self.now and state not in (
            Touchpoint.State.SKIPPED, Touchpoint.State.CANCELLED
        )
        if surveyed and contact is not None:
            self.survey(rng, pk, touchpoint, contact, deal=deal)

    def outcome(self, rng: random.Random, kind: str) -> tuple[int, bool, str]:
        satisfaction = rng.choices(list(SATISFACTION), weights=list(SATISFACTION.values()))[0]
        _, _, notes = rng.choice(OUTCOMES.get(kind) or GENERIC_NOTES)
        as_expected = satisfaction >= 4 or (satisfaction == 3 and rng.random() < 0.7)
        if satisfaction <= 2:
            notes = "The customer is unhappy: delays and surprises they had not been told about."
        return satisfaction, as_expected, notes

    def survey(self, rng: random.Random, pk: int, touchpoint: dict[str, Any], contact: dict[str, Any], *,
               deal: int) -> None:
        """The survey emailed at the due time; about half the customers answer within days."""
        sent, account = touchpoint["due_at"], touchpoint["account_id"]
        answered: datetime | None = (sent + bulk.days(rng, 0.02, 10, 0.8)).replace(microsecond=0)
        if rng.random() >= 0.45 or answered is None or answered > self.now:
            answered = None
        link = self.rows.add(
            CustomerLink, purpose=CustomerLink.Purpose.SURVEY, account_id=account, contact_id=contact["pk"],
            target=f"{Touchpoint._meta.label_lower}:{pk}", token_hash=secrets.token_hex(32), reusable=False,
            created_by_id=None, created_at=sent, expires_at=sent + self.link_days, used_at=answered,
            revoked_at=None, emailed_at=min(sent + timedelta(minutes=1), self.now), renewal_requested_at=None,
        )
        if answered is None:
            return
        recorded = touchpoint["satisfaction"]
        if recorded is None:
            satisfaction = rng.choices(list(SATISFACTION), weights=list(SATISFACTION.values()))[0]
        else:
            satisfaction = min(5, max(1, recorded + rng.choice([-1, 0, 0, 0, 1])))
        as_expected = satisfaction >= 4 or (satisfaction == 3 and rng.random() < 0.6)
        complaint = satisfaction <= 2 and rng.random() < 0.3
        comment = SURVEY_COMMENTS[satisfaction]
        name = f"{contact['first_name']} {contact['last_name']}".strip() or "the customer"
        ip = f"198.51.100.{rng.randint(10, 250)}"
        problem = None
        if satisfaction <= 2 or not as_expected or complaint:
            reasons = []
            if satisfaction <= 2:
                reasons.append(f"satisfaction {satisfaction}/5")
            if not as_expected:
                reasons.append("not as expected")
            if complaint:
                reasons.append("complaint")
            raised = add_problem(
                self.rows, rng, self.now, account=account, project=touchpoint["project_id"],
                title=f"Check-up survey: {', '.join(reasons)}", description=comment, category=Problem.Category.OTHER,
                severity=Problem.Severity.HIGH if satisfaction <= 2 or complaint else Problem.Severity.MEDIUM,
                source=Problem.Source.CHECKUP, raised_by=None, raised_by_label=f"check-up survey ({name})",
                raised_at=answered, resolved_by=touchpoint["owner_id"],
                resolution="Called the customer; the delivery owner agreed a plan with them.",
            )
            problem_events(self.rows, raised, deal=deal if touchpoint["project_id"] else None,
                           owner=touchpoint["owner_id"])
            problem = raised["pk"]
        response = self.rows.add(
            SurveyResponse, touchpoint_id=pk, link_id=link, contact_id=contact["pk"], satisfaction=satisfaction,
            as_expected=as_expected, comment=comment, is_complaint=complaint, problem_id=problem, ip_address=ip,
            user_agent=USER_AGENT, created_at=answered,
        )
        self.rows.event(
            account=account, event_type="touchpoints.survey_answered", at=answered, ip=ip, body=comment,
            actor_label=f"customer via link ({name})",
            subject=f"Survey answered: {satisfaction}/5, {'as expected' if as_expected else 'not as expected'}"
            f"{', complaint' if complaint else ''}",
            data={"touchpoint": pk, "response": response, "satisfaction": satisfaction, "as_expected": as_expected,
                  "complaint": complaint},
        )

