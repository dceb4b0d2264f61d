"""One function per delivery event kind; each writes a row on the account's timeline."""

from __future__ import annotations

from typing import Any

from django.utils.translation import ngettext

from crm.events import event_record
from crm.models import Account, Activity, Contact
from customer_links.models import CustomerLink
from delivery.models import Problem, Project, SignOff, Stage


def completed_subject(deal_name: str, kept: int) -> str:
    """The timeline line of a completed delivery (the seeders write the same words)."""
    return ngettext(
        "Delivery of %(deal)s complete; %(count)d promise marked kept",
        "Delivery of %(deal)s complete; %(count)d promises marked kept",
        kept,
    ) % {"deal": deal_name, "count": kept}

CUSTOMER_VIA_LINK = "customer via link"


def project_started_event(*, project: Project, by: Any) -> Activity:
    return event_record(
        account=project.account,
        deal=project.deal,
        event_type="delivery.project_started",
        actor=by,
        subject=f"Delivery started: {project.template.name} plan, owned by "
        f"{project.owner.get_full_name() or project.owner.get_username()}",
        data={"project": project.pk, "template": project.template_id, "owner": project.owner_id},
    )


def project_completed_event(*, project: Project, by: Any, kept: list[int], left_open: list[int]) -> Activity:
    return event_record(
        account=project.account,
        deal=project.deal,
        event_type="delivery.project_completed",
        actor=by,
        actor_label="" if by is not None else CUSTOMER_VIA_LINK,
        subject=completed_subject(project.deal.name, len(kept)),
        data={"project": project.pk, "kept": kept, "left_open": left_open},
    )


def stage_transition_event(
    *, stage: Stage, by: Any, from_state: str, reason: str = "", extra: dict[str, Any] | None = None
) -> Activity:
    labels = dict(Stage.State.choices)
    return event_record(
        account=stage.account,
        deal=stage.project.deal,
        event_type=f"delivery.stage.{stage.state}",
        actor=by,
        subject=f"Stage {stage.name}: {labels[from_state]} -> {labels[stage.state]}",
        body=reason,
        data={"stage": stage.pk, "project": stage.project_id, "from": from_state, "to": stage.state, **(extra or {})},
    )


def stage_changed_event(*, stage: Stage, by: Any, changed: dict[str, Any]) -> Activity:
    return event_record(
        account=stage.account,
        deal=stage.project.deal,
        event_type="delivery.stage.updated",
        actor=by,
        subject=f"Stage {stage.name} edited",
        data={"stage": stage.pk, "changed": changed},
    )


def customer_answer_event(*, signoff: SignOff, from_state: str) -> Activity:
    stage = signoff.stage
    verb = "signed off" if signoff.decision == SignOff.Decision.SIGNED_OFF else "asked for changes to"
    return event_record(
        account=stage.account,
        deal=stage.project.deal,
        event_type=f"delivery.stage.{stage.state}",
        actor_label=f"{CUSTOMER_VIA_LINK} ({signoff.contact.full_name})",
        ip_address=signoff.ip_address,
        subject=(
            f"{signoff.typed_name} ({signoff.on_behalf_role}) {verb} stage {stage.name} "
            f"on behalf of {signoff.contact.full_name}"
            if signoff.is_on_behalf else f"{signoff.typed_name} {verb} stage {stage.name}"
        ),
        body=signoff.reason,
        data={
            "stage": stage.pk,
            "signoff": signoff.pk,
            "from": from_state,
            "to": stage.state,
            "contact": signoff.contact_id,
            "typed_name": signoff.typed_name,
            "on_behalf_name": signoff.on_behalf_name,
            "on_behalf_role": signoff.on_behalf_role,
            "user_agent": signoff.user_agent,
        },
    )


def problem_event(
    *, problem: Problem, by: Any, event: str, body: str = "", data: dict[str, Any] | None = None
) -> Activity:
    return event_record(
        account=problem.account,
        deal=problem.project.deal if problem.project_id and problem.project else None,
        event_type=f"delivery.problem.{event}",
        actor=by,
        actor_label="" if by is not None else (problem.raised_by_label or CUSTOMER_VIA_LINK),
        subject=f"Problem {event} ({problem.get_severity_display()}, {problem.get_category_display()}): "
        f"{problem.title[:120]}",
        body=body,
        data={"problem": problem.pk, "state": problem.state, **(data or {})},
    )


def portal_link_sent_event(*, account: Account, by: Any, link: CustomerLink, contact: Contact) -> Activity:
    return event_record(
        account=account,
        event_type="delivery.portal_link_sent",
        actor=by,
        subject=f"Customer portal link sent to {contact.full_name}",
        data={"link": link.pk, "contact": contact.pk},
    )


def portal_link_revoked_event(*, account: Account, by: Any) -> Activity:
    return event_record(
        account=account, event_type="delivery.portal_link_revoked", actor=by,
        subject="Customer portal link revoked", data={},
    )
