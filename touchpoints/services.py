"""The write path for check-ups: scheduling the agenda, outcomes, skips, reschedules, surveys
and calendar feeds. Same shape as crm.services. What is owed by time (reminders, escalations,
surveys, digests) is a outbox.notices row in the same transaction; nothing uses a Celery ETA."""

from __future__ import annotations

import secrets
import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import text
from core.exceptions import Conflict
from core.names import name_of
from core.transitions import fire_transition
from crm import roles
from crm.models import Account, Contact
from crm.permissions import is_on_team
from customer_links import services as links
from customer_links.models import CustomerLink
from delivery import services as delivery_services
from delivery.models import Problem, Project
from handover.models import Handover
from outbox import notices
from touchpoints import events
from touchpoints.models import (
    REP_KINDS,
    AgendaStep,
    AgendaTemplate,
    CalendarFeed,
    Channel,
    Kind,
    SurveyResponse,
    Touchpoint,
)
from touchpoints.permissions import can_work as can_work  # re-exported: services.can_work
from touchpoints.permissions import require_can_work as require_can_work

TEXT_LIMIT = 5000
# A satisfaction score as given (an int, or a form's ASCII digit). Not str.isdigit(): "²" is a
# digit to it, and int("²") fails.
SCORES = {"1", "2", "3", "4", "5"}
REMINDER_KINDS = ["touchpoints.reminder", "touchpoints.reminder_day_before", "touchpoints.missed"]


def _setting(name: str) -> Any:
    return settings.KEEPWARM[name]



# --- Who, how and when ------------------------------------------------------------------------


def contact_for(account: Account) -> Contact | None:
    """The primary contact unless they asked not to be contacted (or left); then another
    reachable contact; None when nobody may be contacted."""
    reachable = [c for c in account.contacts.all() if c.is_active and not c.do_not_contact]
    primary = [c for c in reachable if c.is_primary]
    candidates = primary or reachable
    return candidates[0] if candidates else None


def channel_for(step_channel: str, contact: Contact | None) -> str:
    if step_channel != Channel.PREFERRED:
        return step_channel
    return contact.preferred_channel if contact is not None else Channel.EMAIL


def working_time(user: Any, day: date) -> datetime:
    """The start of `user`'s working hours on `day` (or the next weekday), in their time zone."""
    profile = getattr(user, "profile", None)
    zone = zoneinfo.ZoneInfo(getattr(profile, "time_zone", "UTC") or "UTC")
    starts = getattr(profile, "work_starts", None) or time(9, 0)
    if isinstance(starts, str):
        starts = time.fromisoformat(starts)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, starts, tzinfo=zone)


def _owner_for(kind: str, handover: Handover) -> Any:
    """The rep for thank-you and next-sale steps (while they are active), else the delivery owner."""
    if kind in REP_KINDS and handover.rep.is_active:
        return handover.rep
    return handover.delivery_owner


def _schedule_notices(touchpoint: Touchpoint) -> None:
    """What this touchpoint owes, keyed by its version (a reschedule owes new reminders)."""
    target = notices.target_of(touchpoint)
    version = touchpoint.version
    due = touchpoint.due_at
    notices.notice_schedule(kind="touchpoints.reminder", key=f"touchpoints.reminder:{touchpoint.pk}:{version}",
                            target=target, due_at=due)
    if touchpoint.is_meeting:
        notices.notice_schedule(
            kind="touchpoints.reminder_day_before", key=f"touchpoints.reminder_day_before:{touchpoint.pk}:{version}",
            target=target, due_at=due - timedelta(days=1),
        )
    notices.notice_schedule(
        kind="touchpoints.missed", key=f"touchpoints.missed:{touchpoint.pk}:{version}", target=target,
        due_at=due + timedelta(hours=_setting("TOUCHPOINT_GRACE_HOURS")),
    )
    if touchpoint.sends_survey and touchpoint.contact_id:
        # Once per touchpoint whatever its reschedules: a customer is surveyed once per step.
        notices.notice_schedule(kind="touchpoints.survey", key=f"touchpoints.survey:{touchpoint.pk}", target=target,
                                due_at=due)


def _create(
    *, account: Account, handover: Handover | None, project: Project | None, step: AgendaStep | None, kind: str,
    title: str, objectives: str, owner: Any, contact: Contact | None, channel: str, due_at: datetime,
    sends_survey: bool, follow_up_of: Touchpoint | None = None,
) -> Touchpoint:
    touchpoint = Touchpoint.objects.create(
        account=account, handover=handover, project=project, step=step, kind=kind, title=title[:200],
        objectives=objectives, owner=owner, contact=contact, channel=channel, due_at=due_at,
        sends_survey=sends_survey and contact is not None, follow_up_of=follow_up_of,
    )
    _schedule_notices(touchpoint)
    return touchpoint


def agenda_schedule(
    *, handover: Handover, anchor: str, anchor_at: datetime, project: Project | None = None
) -> list[Touchpoint]:
    """Schedules every active agenda's steps for `anchor` (acceptance, or go-live). Idempotent:
    a step already scheduled for this handover is left alone (a unique constraint backs it)."""
    account = Account.objects.prefetch_related("contacts").get(pk=handover.account_id)
    contact = contact_for(account)
    done_steps = set(Touchpoint.objects.filter(handover=handover).values_list("step_id", flat=True))
    steps = (
        AgendaStep.objects.filter(template__is_active=True, anchor=anchor)
        .exclude(pk__in=done_steps)
        .select_related("template")
        .order_by("template__name", "position")
    )
    start = timezone.localdate(anchor_at)
    created = []
    for step in steps:
        owner = _owner_for(step.kind, handover)
        if owner is None:
            continue
        due = working_time(owner, start + timedelta(days=step.offset_days))
        if step.offset_days == 0 and due < anchor_at:
            # Today's thank-you note is due now, not this morning: at the next whole minute (a
            # calendar has no microseconds, and its reminder goes at the dispatcher's next tick
            # rather than inside the acceptance).
            due = anchor_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        label = dict(Kind.choices)[step.kind]
        created.append(
            _create(
                account=account, handover=handover, project=project, step=step, kind=step.kind,
                title=f"{label}: day {step.offset_days}" + (" after go-live" if anchor == "go_live" else ""),
                objectives=step.objectives, owner=owner, contact=contact, channel=channel_for(step.channel, contact),
                due_at=due, sends_survey=step.sends_survey,
            )
        )
    if created:
        events.agenda_scheduled_event(account=account, handover=handover, anchor=anchor, count=len(created))
    return created


def touchpoints_move_owner(*, account: Account, from_user: Any, to_user: Any) -> int:
    """Reassigning the account moves its open touchpoints from the old owner to the new one."""
    return Touchpoint.objects.filter(account=account, owner=from_user, state=Touchpoint.State.SCHEDULED).update(
        owner=to_user
    )


def touchpoints_hand_over(*, from_user: Any, to_user: Any, by: Any) -> int:
    """A departure: every open touchpoint the departing user still owns, on any account, goes to
    the successor, each with an event row on its account's timeline."""
    moved = list(
        Touchpoint.objects.select_for_update(of=("self",)).filter(owner=from_user, state=Touchpoint.State.SCHEDULED)
        .select_related("account").order_by("pk")
    )
    for touchpoint in moved:
        touchpoint.owner = to_user
        touchpoint.save(update_fields=["owner"])
        events.touchpoint_event(
            touchpoint=touchpoint, by=by, event="owner_changed",
            body=f"From {name_of(from_user)} (departure) to {name_of(to_user)}.",
            data={"from": from_user.pk, "to": to_user.pk, "reason": "departure"},
        )
    return len(moved)



def touchpoints_move_to_account(*, from_account: Account, to_account: Account) -> int:
    """A merge (flows.account_merge): the merged account's check-ups, done or to come, go to
    the survivor, in the flow's transaction after crm's checks and locks."""
    return Touchpoint.objects.filter(account=from_account).update(account=to_account)


def touchpoints_move_to_contact(*, from_contact: Contact, to_contact: Contact) -> int:
    """A merge of contacts (flows.contact_merge): check-ups with the merged contact, and the
    survey answers they gave, name the survivor."""
    moved = Touchpoint.objects.filter(contact=from_contact).update(contact=to_contact)
    return moved + SurveyResponse.objects.filter(contact=from_contact).update(contact=to_contact)


def touchpoints_drop_contact(contact: Contact) -> int:
    """A contact who left or asked not to be contacted gets no more touchpoints: their open ones
    move to another reachable contact, or to none (and send no survey)."""
    replacement = contact_for(Account.objects.prefetch_related("contacts").get(pk=contact.account_id))
    qs = Touchpoint.objects.filter(contact=contact, state=Touchpoint.State.SCHEDULED)
    if replacement is None:
        return qs.update(contact=None, sends_survey=False)
    return qs.update(contact=replacement)


# --- Permissions ------------------------------------------------------------------------------


# can_work and require_can_work live in touchpoints.permissions (imported above), so views,
# the API and these services ask the same question.


# --- Outcomes ---------------------------------------------------------------------------------


def _lock(touchpoint: Touchpoint) -> Touchpoint:
    return Touchpoint.objects.select_for_update(of=("self",)).select_related("account", "owner").get(pk=touchpoint.pk)


def _text(value: str | None, field: str, *, required: str | None = None, limit: int = TEXT_LIMIT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: required})
    if len(value) > limit:
        raise ValidationError({field: f"Keep it under {limit:,} characters."})
    return value


def _due(value: Any, field: str = "due_at") -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError({field: "Enter a date and time."})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    now = timezone.now()
    if not (now - timedelta(days=1) <= value <= now + timedelta(days=3 * 365)):
        raise ValidationError({field: "Choose a time between yesterday and three years from now."})
    return value


@transaction.atomic
def touchpoint_complete(
    *,
    touchpoint: Touchpoint,
    by: Any,
    satisfaction: Any,
    as_expected: Any,
    notes: str = "",
    follow_up_at: datetime | None = None,
    follow_up_title: str = "",
    problem_title: str = "",
    problem_severity: str = Problem.Severity.MEDIUM,
) -> Touchpoint:
    """Records the outcome. A follow-up becomes a new touchpoint (same owner and contact) and/or
    a problem on the account (through delivery's service)."""
    touchpoint = _lock(touchpoint)
    require_can_work(by, touchpoint)
    errors = {}
    # A thank-you note asks the customer nothing, so it may be recorded without a score.
    score_optional = touchpoint.kind == Kind.THANK_YOU
    if satisfaction in (None, "") and score_optional:
        satisfaction = None
    elif str(satisfaction) not in SCORES:
        errors["satisfaction"] = "Choose a satisfaction score from 1 to 5."
    if as_expected not in (True, False):
        errors["as_expected"] = "Say whether everything was as the customer expected."
    if errors:
        raise ValidationError(errors)
    notes = _text(notes, "notes")
    follow_up_title = _text(follow_up_title, "follow_up_title", limit=200)
    problem_title = _text(problem_title, "problem_title", limit=200)
    if follow_up_at is not None:
        follow_up_at = _due(follow_up_at, "follow_up_at")
    if problem_title and problem_severity not in Problem.Severity.values:
        raise ValidationError({"problem_severity": "Choose low, medium, high or critical."})
    if touchpoint.state != Touchpoint.State.SCHEDULED:
        raise Conflict(f"The touchpoint is {touchpoint.get_state_display().lower()}; its outcome is recorded.")
    score = None if satisfaction is None else int(satisfaction)
    fire_transition(touchpoint.complete, satisfaction=score, as_expected=as_expected, notes=notes, by=by)
    touchpoint.save()
    notices.notices_cancel(target=touchpoint, kinds=REMINDER_KINDS)
    events.touchpoint_event(touchpoint=touchpoint, by=by, event="done",
                            data={"satisfaction": touchpoint.satisfaction, "as_expected": as_expected})
    if follow_up_at is not None:
        _create(
            account=touchpoint.account, handover=touchpoint.handover, project=touchpoint.project, step=None,
            kind=Kind.CHECKUP_CALL, title=follow_up_title or f"Follow-up: {touchpoint.title}"[:200],
            objectives=notes[:2000], owner=touchpoint.owner, contact=touchpoint.contact, channel=touchpoint.channel,
            due_at=follow_up_at, sends_survey=False, follow_up_of=touchpoint,
        )
    if problem_title:
        delivery_services.problem_raise(
            account=touchpoint.account, by=by, title=problem_title, description=notes, category=Problem.Category.OTHER,
            severity=problem_severity, source=Problem.Source.CHECKUP, project=touchpoint.project,
        )
    return touchpoint


@transaction.atomic
def touchpoint_skip(*, touchpoint: Touchpoint, by: Any, reason: str) -> Touchpoint:
    return _close(touchpoint=touchpoint, by=by, reason=reason, action="skip")


@transaction.atomic
def touchpoint_cancel(*, touchpoint: Touchpoint, by: Any, reason: str) -> Touchpoint:
    return _close(touchpoint=touchpoint, by=by, reason=reason, action="cancel")


def _close(*, touchpoint: Touchpoint, by: Any, reason: str, action: str) -> Touchpoint:
    touchpoint = _lock(touchpoint)
    require_can_work(by, touchpoint)
    reason = _text(reason, "reason", required="Say why.", limit=2000)
    fire_transition(getattr(touchpoint, action), reason=reason)
    touchpoint.save()
    notices.notices_cancel(target=touchpoint)  # reminders and a survey not yet sent
    events.touchpoint_event(touchpoint=touchpoint, by=by, event=touchpoint.state, body=reason)
    return touchpoint


@transaction.atomic
def touchpoint_reschedule(*, touchpoint: Touchpoint, by: Any, due_at: Any) -> Touchpoint:
    touchpoint = _lock(touchpoint)
    require_can_work(by, touchpoint)
    due_at = _due(due_at)
    if touchpoint.state != Touchpoint.State.SCHEDULED:
        raise Conflict(f"The touchpoint is {touchpoint.get_state_display().lower()}; it cannot move.")
    before = touchpoint.due_at
    if due_at == before:
        # The form shows the current due time: saving it unchanged moves nothing and says nothing.
        return touchpoint
    touchpoint.due_at = due_at
    touchpoint.version += 1
    touchpoint.save(update_fields=["due_at", "version"])
    notices.notices_cancel(target=touchpoint, kinds=REMINDER_KINDS)
    notices.notices_reschedule(target=touchpoint, kind="touchpoints.survey", due_at=due_at)
    _schedule_notices(touchpoint)
    events.touchpoint_event(touchpoint=touchpoint, by=by, event="rescheduled",
                            data={"from": before.isoformat(), "to": due_at.isoformat()})
    return touchpoint


def touchpoint_mark_missed(touchpoint_id: int, now: datetime) -> Touchpoint | None:
    """The dispatcher's verdict on a touchpoint more than the grace period overdue."""
    touchpoint = (
        Touchpoint.objects.select_for_update(of=("self",)).select_related("account", "owner__profile__manager")
        .filter(pk=touchpoint_id, state=Touchpoint.State.SCHEDULED).first()
    )
    if touchpoint is None or touchpoint.due_at + timedelta(hours=_setting("TOUCHPOINT_GRACE_HOURS")) > now:
        return None
    touchpoint.miss()
    touchpoint.save()
    notices.notices_cancel(target=touchpoint, kinds=["touchpoints.reminder", "touchpoints.reminder_day_before"])
    events.touchpoint_event(touchpoint=touchpoint, by=None, event="missed")
    return touchpoint


# --- The customer's survey --------------------------------------------------------------------


def survey_link_issue(touchpoint: Touchpoint) -> tuple[CustomerLink, str]:
    return links.link_issue(
        purpose=CustomerLink.Purpose.SURVEY, account=touchpoint.account, target=touchpoint,
        contact=touchpoint.contact, by=None, valid_for=timedelta(days=_setting("SURVEY_LINK_DAYS")),
    )


def touchpoint_of_link(link: CustomerLink) -> Touchpoint:
    label, _, pk = link.target.partition(":")
    if label != Touchpoint._meta.label_lower:
        raise Conflict("This link is not for a check-up.")
    return Touchpoint.objects.select_related("account", "owner__profile", "contact", "project").get(pk=int(pk))


@transaction.atomic
def survey_answer(
    *, link: CustomerLink, satisfaction: Any, as_expected: Any, comment: str = "", is_complaint: bool = False,
    ip: str | None, user_agent: str,
) -> SurveyResponse:
    """Records the customer's answer once. A score of 2 or less, "not as expected" or a
    complaint opens a problem (source check-up) and alerts the delivery owner and managers."""
    errors = {}
    if str(satisfaction) not in SCORES:
        errors["satisfaction"] = "Choose a score from 1 (very unhappy) to 5 (very happy)."
    if as_expected not in (True, False):
        errors["as_expected"] = "Tell us whether everything was as you expected."
    comment = text.clean_text_into(errors, "comment", comment, label="Your comment", multi_line=True)
    if "comment" in errors:
        pass
    elif len(comment) > TEXT_LIMIT:
        errors["comment"] = f"Keep your comment under {TEXT_LIMIT:,} characters."
    if is_complaint and not comment:
        errors["comment"] = "Tell us what the complaint is about."
    if errors:
        raise ValidationError(errors)
    touchpoint = Touchpoint.objects.select_for_update(of=("self",)).get(pk=touchpoint_of_link(link).pk)
    if SurveyResponse.objects.filter(touchpoint=touchpoint).exists() or not links.link_use(link):
        raise Conflict("Thank you: this survey has already been answered.")
    response = SurveyResponse.objects.create(
        touchpoint=touchpoint, link=link, contact_id=link.contact_id,  # type: ignore[misc]  # survey links name a contact
        satisfaction=int(satisfaction),
        as_expected=as_expected, comment=comment, is_complaint=bool(is_complaint), ip_address=ip or None,
        user_agent=text.without_control_characters(user_agent or "")[:400],
    )
    contact_name = link.contact.full_name if link.contact else "the customer"
    events.survey_answered_event(response=response, contact_name=contact_name)
    if response.is_alarming:
        reasons = []
        if response.satisfaction <= 2:
            reasons.append(f"satisfaction {response.satisfaction}/5")
        if not response.as_expected:
            reasons.append("not as expected")
        if response.is_complaint:
            reasons.append("complaint")
        problem = delivery_services.problem_raise(
            account=touchpoint.account, by=None, title=f"Check-up survey: {', '.join(reasons)}",
            description=comment, category=Problem.Category.OTHER,
            severity=(Problem.Severity.HIGH if response.satisfaction <= 2 or response.is_complaint
                      else Problem.Severity.MEDIUM),
            source=Problem.Source.CHECKUP, project=touchpoint.project,
            raised_by_label=f"check-up survey ({contact_name})",
        )
        response.problem = problem
        response.save(update_fields=["problem"])
        notices.notice_schedule(
            kind="touchpoints.survey_alert", key=f"touchpoints.survey_alert:{response.pk}", target=touchpoint,
            data={"response": response.pk}, send_now=True,
        )
    return response


# --- Calendar feeds ---------------------------------------------------------------------------



@transaction.atomic
def calendar_feed_reset(*, user: Any) -> str:
    """A new private feed URL token for `user` (the old URL stops working). Shown once."""
    raw = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(user=user, defaults={"token_hash": links.token_hash(raw),
                                                                "created_at": timezone.now(), "last_fetched_at": None})
    return raw


def calendar_feed_revoke(*, user: Any) -> int:
    deleted, _ = CalendarFeed.objects.filter(user=user).delete()
    return deleted


def can_see_account_agenda(user: Any, account: Account) -> bool:
    # The owner is always on the team: answering for them (and managers) costs no query.
    return roles.sees_all_accounts(user) or account.owner_id == user.pk or is_on_team(user, account)


def agenda_templates() -> Any:
    return AgendaTemplate.objects.filter(is_active=True).prefetch_related("steps")
