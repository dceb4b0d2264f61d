"""What touchpoints owes by time, as outbox.notices builders (and the digest's producer), plus the
survey link's email. Each builder re-reads the touchpoint and returns [] when the notice is moot; what
sending decides (a check-up is missed, a survey link is issued) is the kind's `prepare` step."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext

from core.mail import email_message
from core.names import name_of
from core.time_zones import zone_of
from crm import roles
from customer_links import services as links
from customer_links.models import CustomerLink
from outbox import notices
from outbox.models import Notice
from touchpoints import services
from touchpoints.models import SurveyResponse, Touchpoint


def _message(
    *, template: str, subject: str, context: dict[str, Any], to: list[str] | None = None,
    users: list[Any] | None = None, link: str = "", zone_from: Any = None,
) -> EmailMessage:
    """`zone_from`: the user whose time zone the email's times are in: the recipient when staff,
    the touchpoint's owner when a customer (contacts have no time zone of their own). `to`: a
    customer's address; `users`: staff, who also see it in their bell, opening `link`."""
    return email_message(
        subject=subject, template=f"touchpoints/email/{template}", to=to or [], users=users or [], link=link,
        context=context, zone=zone_of(zone_from),
    )


def _touchpoint(notice: Notice) -> Touchpoint | None:
    """What the reminders and the survey show. Only these four joins (the owner's profile gives
    their time zone): planning a seven-join version was most of a reminder's cost when thousands
    fall due at once (docs/benchmarks.md, Notices); and no ORDER BY for one row by primary key."""
    pk = notices.target_pk(notice.target)
    rows = list(Touchpoint.objects.select_related("account", "owner__profile", "contact").filter(pk=pk).order_by()[:1])
    return rows[0] if rows else None


def _url(touchpoint: Touchpoint) -> str:
    return settings.SITE_URL + reverse("touchpoints:my_week") + f"#touchpoint-{touchpoint.pk}"


def _owner_reminder(notice: Notice, *, tomorrow: bool) -> list[EmailMessage]:
    touchpoint = _touchpoint(notice)
    if touchpoint is None or touchpoint.state != Touchpoint.State.SCHEDULED or not touchpoint.owner.email:
        return []
    when = "Tomorrow" if tomorrow else "Due now"
    return [
        _message(
            template="reminder",
            subject=f"{when}: {touchpoint.title} with {touchpoint.account.name}",
            users=[touchpoint.owner], link=_url(touchpoint),
            context={
                "touchpoint": touchpoint,
                "owner_name": name_of(touchpoint.owner),
                "url": _url(touchpoint),
                "tomorrow": tomorrow,
            },
            zone_from=touchpoint.owner,
        )
    ]


@notices.register("touchpoints.reminder", topic="reminders")
def reminder(notice: Notice) -> list[EmailMessage]:
    return _owner_reminder(notice, tomorrow=False)


@notices.register("touchpoints.reminder_day_before", topic="reminders")
def reminder_day_before(notice: Notice) -> list[EmailMessage]:
    """Meetings (review meetings, visits, video calls) are announced the day before too."""
    return _owner_reminder(notice, tomorrow=True)


def _escalation_recipients(owner: Any) -> list[Any]:
    """The owner's manager; without one, the managers of the owner's side of the house."""
    profile = getattr(owner, "profile", None)
    manager = getattr(profile, "manager", None)
    if manager is not None and manager.is_active and manager.email:
        return [manager]
    group = roles.SALES_MANAGER if roles.has_role(owner, roles.SALES_REP, roles.PRESALES) else roles.DELIVERY_MANAGER
    managers = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=group)
        .exclude(email="")
        .select_related("profile")
        .order_by("email", "pk")
    )
    return list({user.email: user for user in managers}.values())


def mark_missed(notice: Notice) -> dict[str, Any] | None:
    """Prepare: the touchpoint is marked missed now (still scheduled past the grace period);
    None when it was done, skipped or moved meanwhile."""
    touchpoint = services.touchpoint_mark_missed(notices.target_pk(notice.target), timezone.now())
    return None if touchpoint is None else {"touchpoint": touchpoint}


@notices.register("touchpoints.missed", prepare=mark_missed, topic="escalations")
def missed(notice: Notice, *, touchpoint: Touchpoint) -> list[EmailMessage]:
    """Escalates a missed touchpoint once, one email per manager so each reads the due time in
    their own time zone."""
    return [
        _message(
            template="missed",
            subject=f"Missed check-up: {touchpoint.title} at {touchpoint.account.name}",
            users=[manager], link=reverse("crm:account_detail", args=[touchpoint.account_id]),
            context={
                "touchpoint": touchpoint,
                "owner_name": name_of(touchpoint.owner),
                "url": settings.SITE_URL + reverse("crm:account_detail", args=[touchpoint.account_id]),
            },
            zone_from=manager,
        )
        for manager in _escalation_recipients(touchpoint.owner)
    ]


def issue_survey_link(notice: Notice) -> dict[str, Any] | None:
    """Prepare: a fresh survey link for the contact, issued and marked emailed in the send's
    transaction; None when the survey is moot (the check-up was cancelled or skipped, the
    contact left or asked not to be contacted, or already answered)."""
    touchpoint = _touchpoint(notice)
    if touchpoint is None or touchpoint.state in (Touchpoint.State.CANCELLED, Touchpoint.State.SKIPPED):
        return None
    contact = touchpoint.contact
    if contact is None or not contact.can_be_emailed:
        return None
    if SurveyResponse.objects.filter(touchpoint=touchpoint).exists():
        return None
    link, raw = services.survey_link_issue(touchpoint)
    links.link_mark_emailed(link.pk, at=timezone.now())
    return {"touchpoint": touchpoint, "link": link, "url": links.link_url(link, raw)}


@notices.register("touchpoints.survey", prepare=issue_survey_link)
def survey(notice: Notice, *, touchpoint: Touchpoint, link: CustomerLink, url: str) -> list[EmailMessage]:
    """Emails the contact their survey link at the step's due time."""
    return [_survey_message(link, url, touchpoint)]


@links.register_email(CustomerLink.Purpose.SURVEY, landing="touchpoints:survey_open")
def survey_message(link: CustomerLink, url: str) -> EmailMessage:
    return _survey_message(link, url, services.touchpoint_of_link(link))


def _survey_message(link: CustomerLink, url: str, touchpoint: Touchpoint) -> EmailMessage:
    asker = touchpoint.owner.get_full_name() or "us"
    return _message(
        template="survey",
        subject=f"How is it going, {link.contact.first_name}? Two questions from {asker}",  # type: ignore[union-attr]
        to=[link.contact.email],  # type: ignore[union-attr]
        context={
            "touchpoint": touchpoint,
            "contact": link.contact,
            "owner_name": name_of(touchpoint.owner),
            "url": url,
            "expires_at": link.expires_at,
        },
        zone_from=touchpoint.owner,
    )


@notices.register("touchpoints.survey_alert", topic="customer_answers")
def survey_alert(notice: Notice) -> list[EmailMessage]:
    response = SurveyResponse.objects.select_related(
        "touchpoint__account", "touchpoint__project__owner", "touchpoint__owner", "contact", "problem"
    ).get(pk=notice.data["response"])
    touchpoint = response.touchpoint
    users = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[roles.DELIVERY_MANAGER, roles.SALES_MANAGER])
        .exclude(email="")
    )
    users.append(touchpoint.project.owner if touchpoint.project else touchpoint.owner)
    to = sorted({u.email: u for u in users if u.email and u.is_active}.values(), key=lambda u: (u.email, u.pk))
    if not to:
        return []
    return [
        _message(
            template="survey_alert",
            subject=f"Unhappy customer: {touchpoint.account.name} scored {response.satisfaction}/5",
            users=to, link=reverse("crm:account_detail", args=[touchpoint.account_id]),
            context={
                "response": response,
                "touchpoint": touchpoint,
                "url": settings.SITE_URL + reverse("crm:account_detail", args=[touchpoint.account_id]),
            },
        )
    ]


@notices.register("touchpoints.digest", topic="digest")
def digest(notice: Notice) -> list[EmailMessage]:
    """A user's morning list: what is due today and what is overdue."""
    user = get_user_model().objects.select_related("profile").filter(pk=notice.data["user"], is_active=True).first()
    if user is None or not user.email:
        return []
    zone = zoneinfo.ZoneInfo(getattr(getattr(user, "profile", None), "time_zone", "UTC") or "UTC")
    day_end = datetime.fromisoformat(notice.data["date"]).replace(tzinfo=zone) + timedelta(days=1)
    open_touchpoints = list(
        Touchpoint.objects.open()
        .filter(owner=user, due_at__lt=day_end)
        .select_related("account", "contact")
        .order_by("due_at")[:200]
    )
    if not open_touchpoints:
        return []
    now = timezone.now()
    overdue = [t for t in open_touchpoints if t.due_at < now]
    today = [t for t in open_touchpoints if t.due_at >= now]
    return [
        _message(
            template="digest",
            subject=ngettext(
                "Today: %(count)d check-up due, %(overdue)d overdue",
                "Today: %(count)d check-ups due, %(overdue)d overdue",
                len(today),
            ) % {"count": len(today), "overdue": len(overdue)},
            users=[user], link=reverse("touchpoints:my_week"),
            context={
                "user": user,
                "today": today,
                "overdue": overdue,
                "url": settings.SITE_URL + reverse("touchpoints:my_week"),
            },
            zone_from=user,
        )
    ]


@notices.register_producer("touchpoints.digest")
def owe_digests(now: datetime) -> int:
    """Once the digest hour has passed in a user's time zone, owes them today's digest (once:
    the key holds the user and their local date)."""
    owners = list(
        get_user_model()
        .objects.filter(
            is_active=True,
            pk__in=Touchpoint.objects.open().filter(due_at__lt=now + timedelta(days=1)).values("owner"),
        )
        .select_related("profile")
    )
    wanted = {}
    for user in owners:
        zone = zoneinfo.ZoneInfo(getattr(getattr(user, "profile", None), "time_zone", "UTC") or "UTC")
        local = now.astimezone(zone)
        if local.hour >= settings.KEEPWARM["DIGEST_HOUR"] and local.weekday() < 5:
            wanted[f"touchpoints.digest:{user.pk}:{local.date().isoformat()}"] = (user, local.date())
    if not wanted:
        return 0
    existing = set(Notice.objects.filter(key__in=list(wanted)).values_list("key", flat=True))
    created = 0
    for key, (user, day) in wanted.items():
        if key in existing:
            continue
        notices.notice_schedule(
            kind="touchpoints.digest",
            key=key,
            target=f"auth.user:{user.pk}",
            due_at=now,
            data={"user": user.pk, "date": day.isoformat()},
        )
        created += 1
    return created
