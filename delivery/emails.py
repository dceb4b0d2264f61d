"""Emails delivery sends: customer links (through customer_links.services) and outbox notices (outbox.notices).
Built when sent, from the rows as they are then; a builder returns [] when the notice is moot, and
writes nothing (the reminder's fresh link is issued by its `prepare` step)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.urls import reverse

from core.mail import email_message
from core.names import name_of
from core.time_zones import zone_of
from crm import roles
from crm.models import AccountTeamMember
from customer_links import services as links
from customer_links.models import CustomerLink
from delivery.models import Problem, SignOff, Stage
from outbox import notices
from outbox.models import Notice


def _phone(user: Any) -> str:
    profile = getattr(user, "profile", None)
    return getattr(profile, "phone", "") if profile is not None else ""


def _message(
    *, template: str, subject: str, context: dict[str, Any], to: list[str] | None = None,
    users: list[Any] | None = None, link: str = "", zone_from: Any = None,
) -> EmailMessage:
    """`zone_from`: the user whose time zone the email's times are in: the recipient when staff,
    the delivery owner when a customer (contacts have no time zone of their own). `to`: a
    customer's address; `users`: staff, who also see it in their bell, opening `link`."""
    return email_message(
        subject=subject, template=f"delivery/email/{template}", to=to or [], users=users or [], link=link,
        context=context, zone=zone_of(zone_from),
    )


def _stage(pk: Any) -> Stage:
    return Stage.objects.select_related("project__owner__profile", "project__deal", "account", "signer").get(
        pk=notices.target_pk(str(pk))
    )


@links.register_email(CustomerLink.Purpose.SIGNOFF, landing="delivery:signoff_open")
def signoff_request(link: CustomerLink, url: str) -> EmailMessage:
    stage = _stage(link.target)
    owner = stage.project.owner
    return _message(
        template="signoff_request",
        subject=f"Please review and sign off: {stage.name} ({stage.project.deal.name})",
        to=[link.contact.email],  # type: ignore[union-attr]
        context={"stage": stage, "contact": link.contact, "owner": owner, "owner_name": name_of(owner),
                 "phone": _phone(owner), "url": url, "expires_at": link.expires_at},
        zone_from=owner,
    )


@links.register_email(CustomerLink.Purpose.PORTAL, landing="delivery:portal_open")
def portal_invitation(link: CustomerLink, url: str) -> EmailMessage:
    owner = link.account.owner  # after the handover, the delivery owner
    return _message(
        template="portal_invitation",
        subject=f"Follow the delivery for {link.account.name}",
        to=[link.contact.email],  # type: ignore[union-attr]
        context={"account": link.account, "contact": link.contact, "owner_name": name_of(owner), "url": url,
                 "expires_at": link.expires_at},
        zone_from=owner,
    )


def issue_reminder_link(notice: Notice) -> dict[str, Any] | None:
    """Prepare: a fresh link for the signer (the raw token of the first one is not kept), issued
    and marked emailed in the send's transaction; None when the reminder is moot (signed off,
    the link revoked or used, another signer asked)."""
    stage = _stage(notice.target)
    link = CustomerLink.objects.filter(pk=notice.data.get("link")).first()
    if (
        stage.state != Stage.State.AWAITING_SIGNOFF
        or link is None
        or link.revoked_at is not None
        or link.used_at is not None
        or stage.signer_id != link.contact_id
    ):
        return None
    fresh, raw = links.link_issue(
        purpose=CustomerLink.Purpose.SIGNOFF, account=stage.account, target=stage, contact=stage.signer, by=None,
        valid_for=link.expires_at - link.created_at,
    )
    links.link_mark_emailed(fresh.pk, at=fresh.created_at)
    return {"stage": stage, "link": fresh, "url": links.link_url(fresh, raw)}


@notices.register("delivery.signoff_reminder", prepare=issue_reminder_link)
def signoff_reminder(notice: Notice, *, stage: Stage, link: CustomerLink, url: str) -> list[EmailMessage]:
    """One reminder to the signer, with a fresh link."""
    owner = stage.project.owner
    return [
        _message(
            template="signoff_reminder",
            subject=f"Reminder: {stage.name} is waiting for your sign-off",
            to=[stage.signer.email],  # type: ignore[union-attr]
            context={"stage": stage, "contact": stage.signer, "owner_name": name_of(owner), "phone": _phone(owner),
                     "url": url, "expires_at": link.expires_at},
            zone_from=owner,
        )
    ]


@notices.register("delivery.signoff_reminder_owner", topic="reminders")
def signoff_reminder_owner(notice: Notice) -> list[EmailMessage]:
    stage = _stage(notice.target)
    owner = stage.project.owner
    if stage.state != Stage.State.AWAITING_SIGNOFF or not owner.email or not owner.is_active:
        return []
    return [
        _message(
            template="signoff_reminder_owner",
            subject=f"Still waiting for sign-off: {stage.name} at {stage.account.name}",
            users=[owner], link=reverse("delivery:project_detail", args=[stage.project_id]),
            context={"stage": stage, "owner_name": name_of(owner),
                     "url": reverse("delivery:project_detail", args=[stage.project_id])},
            zone_from=owner,
        )
    ]


@notices.register("delivery.customer_answered", topic="signoffs")
def customer_answered(notice: Notice) -> list[EmailMessage]:
    signoff = SignOff.objects.select_related("stage__project__owner__profile", "stage__account", "contact").get(
        pk=notice.data["signoff"]
    )
    owner = signoff.stage.project.owner
    if not owner.email:
        return []
    signed = signoff.decision == SignOff.Decision.SIGNED_OFF
    return [
        _message(
            template="customer_answered",
            subject=(
                f"{signoff.typed_name} signed off {signoff.stage.name}"
                if signed
                else f"{signoff.typed_name} asked for changes to {signoff.stage.name}"
            ),
            users=[owner], link=reverse("delivery:project_detail", args=[signoff.stage.project_id]),
            context={"signoff": signoff, "signed": signed, "owner_name": name_of(owner),
                     "url": reverse("delivery:project_detail", args=[signoff.stage.project_id])},
            zone_from=owner,
        )
    ]


@notices.register("delivery.problem_critical", topic="problems")
def problem_critical(notice: Notice) -> list[EmailMessage]:
    """The delivery owner, the delivery managers and the account's sales rep, at once."""
    problem = Problem.objects.select_related("account", "project__owner", "project__deal__sold_by").get(
        pk=notices.target_pk(notice.target)
    )
    users = list(
        get_user_model().objects.filter(is_active=True, groups__name=roles.DELIVERY_MANAGER).exclude(email="")
    )
    if problem.project is not None:
        users.append(problem.project.owner)
        if problem.project.deal.sold_by is not None:
            users.append(problem.project.deal.sold_by)
    team = AccountTeamMember.objects.current().filter(
        account=problem.account, role__in=[AccountTeamMember.Role.DELIVERY_OWNER, AccountTeamMember.Role.SALES_REP]
    ).select_related("user")
    users.extend(member.user for member in team)
    recipients = sorted(
        {u.email: u for u in users if u.email and u.is_active}.values(), key=lambda u: (u.email, u.pk)
    )
    if not recipients:
        return []
    return [
        _message(
            template="problem_critical",
            subject=f"Critical problem at {problem.account.name}: {problem.title}",
            users=recipients, link=reverse("delivery:problem_detail", args=[problem.pk]),
            context={"problem": problem, "url": reverse("delivery:problem_detail", args=[problem.pk])},
        )
    ]
