"""The customer's sign-off of a stage: who may sign, the request and its link and reminders,
and the customer's answer on the link (checked, then recorded)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import text
from core.exceptions import Conflict
from core.transitions import fire_transition
from crm.models import Contact
from customer_links import services as links
from customer_links import tasks as customer_links_tasks
from customer_links.models import CustomerLink
from delivery import events, permissions
from delivery.models import SignOff, Stage
from delivery.services.projects import complete_project_if_done
from delivery.services.shared import TEXT_LIMIT, lock_stage, require_active, setting
from outbox import notices

SIGNOFF_REMINDER_KINDS = ("delivery.signoff_reminder", "delivery.signoff_reminder_owner")


def signer_choices(stage: Stage) -> Any:
    """Who may sign this stage off: the account's active contacts with the stage's role and an email."""
    qs = Contact.objects.filter(account_id=stage.account_id).emailable()
    if stage.signer_role:
        qs = qs.filter(role=stage.signer_role)
    return qs


@transaction.atomic
def stage_request_signoff(
    *, stage: Stage, by: Any, contact: Contact | None, delivered: str | None = None
) -> CustomerLink:
    """Moves the stage to awaiting sign-off and emails the signer a link (a new request revokes
    the previous link). One reminder to the signer and one note to the owner fall due after
    SIGNOFF_REMINDER_DAYS, through the outbox."""
    stage = lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    require_active(stage)
    if not stage.needs_signoff:
        raise Conflict("This stage is completed by the delivery owner; it has no customer sign-off.")
    if stage.state not in (Stage.State.IN_PROGRESS, Stage.State.AWAITING_SIGNOFF):
        raise Conflict(f"The stage is {stage.get_state_display().lower()}; start it before asking for sign-off.")
    if contact is None or not signer_choices(stage).filter(pk=contact.pk).exists():
        role = stage.get_signer_role_display() if stage.signer_role else "any"
        raise ValidationError(
            {"contact": f"Choose an active contact of this account with an email and the {role} role."}
        )
    if delivered is not None:
        delivered = delivered.strip()
        if len(delivered) > TEXT_LIMIT:
            raise ValidationError({"delivered": f"Keep it under {TEXT_LIMIT} characters."})
        stage.delivered = delivered
    if not stage.delivered:
        raise ValidationError({"delivered": "Say what was delivered; the customer reads it before signing."})
    from_state = stage.state
    fire_transition(stage.request_signoff, signer=contact)
    stage.save()
    link, _ = links.link_issue(
        purpose=CustomerLink.Purpose.SIGNOFF,
        account=stage.account,
        target=stage,
        contact=contact,
        by=by,
        valid_for=timedelta(days=setting("SIGNOFF_LINK_DAYS")),
    )
    customer_links_tasks.link_send_on_commit(link)
    due = timezone.now() + timedelta(days=setting("SIGNOFF_REMINDER_DAYS"))
    # A new request replaces what the previous one still owed: its link is revoked, so the
    # signer's reminder is moot, and the owner is reminded once, counting from this request.
    notices.notices_cancel(target=stage, kinds=list(SIGNOFF_REMINDER_KINDS))
    for kind in SIGNOFF_REMINDER_KINDS:
        notices.notice_schedule(kind=kind, key=f"{kind}:{link.pk}", target=stage, due_at=due, data={"link": link.pk})
    events.stage_transition_event(
        stage=stage, by=by, from_state=from_state, extra={"signer": contact.pk, "link": link.pk}
    )
    return link


def stage_of_link(link: CustomerLink) -> Stage:
    label, _, pk = link.target.partition(":")
    if label != Stage._meta.label_lower:
        raise Conflict("This link is not for a delivery stage.")
    return Stage.objects.select_related(
        "project__owner__profile", "project__deal", "account", "signer"
    ).get(pk=int(pk))


def signature_key(name: str) -> str:
    """A typed name as compared with the signer's: case, spacing and accents do not count
    ("anna  MÜLLER" is "Anna Müller"), every letter does."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.casefold().split())


@dataclass(frozen=True)
class CustomerAnswer:
    """A checked answer on a sign-off link, as the review step shows it and the final POST
    records it."""

    signed_off: bool
    typed_name: str
    reason: str
    on_behalf: bool
    on_behalf_role: str


def customer_answer_check(
    *, link: CustomerLink, signed_off: bool, typed_name: str, reason: str = "",
    on_behalf: bool = False, on_behalf_role: str = "",
) -> CustomerAnswer:
    """Checks an answer without recording it (the review step, and the final POST again).

    The typed name is a signature: it must be the signer's own name, unless the person answering
    says they answer on the signer's behalf, giving their own name and their role."""
    errors: dict[str, str] = {}
    typed_name = text.clean_text_into(errors, "typed_name", typed_name or "", label="Your name")
    reason = text.clean_text_into(errors, "reason", reason or "", label="What needs to change", multi_line=True)
    on_behalf_role = (
        text.clean_text_into(errors, "on_behalf_role", on_behalf_role or "", label="Your role") if on_behalf else ""
    )
    signer = cast(Contact, link.contact)
    if "typed_name" in errors:
        pass  # the control character is the one thing to fix
    elif not typed_name:
        errors["typed_name"] = "Type your full name to sign."
    elif len(typed_name) > 200:
        errors["typed_name"] = "Keep your name under 200 characters."
    elif not on_behalf and signature_key(typed_name) != signature_key(signer.full_name):
        errors["typed_name"] = (
            f"Type the name of the person asked to sign, {signer.full_name}, or tick "
            f"\u201cI answer on {signer.full_name}\u2019s behalf\u201d and give your own name and role."
        )
    if "on_behalf_role" in errors:
        pass
    elif on_behalf and not on_behalf_role:
        errors["on_behalf_role"] = f"Say in what role you answer for {signer.full_name}."
    elif len(on_behalf_role) > 200:
        errors["on_behalf_role"] = "Keep your role under 200 characters."
    if "reason" in errors:
        pass
    elif not signed_off and not reason:
        errors["reason"] = "Say what needs to change."
    elif len(reason) > TEXT_LIMIT:
        errors["reason"] = f"Keep it under {TEXT_LIMIT} characters."
    if errors:
        raise ValidationError(errors)
    return CustomerAnswer(
        signed_off=signed_off, typed_name=typed_name, reason=reason, on_behalf=on_behalf, on_behalf_role=on_behalf_role,
    )


@transaction.atomic
def customer_answer(
    *, link: CustomerLink, signed_off: bool, typed_name: str, reason: str = "", ip: str | None, user_agent: str,
    on_behalf: bool = False, on_behalf_role: str = "",
) -> SignOff:
    """The customer's final POST on a sign-off link. The stage row lock and the link's conditional
    UPDATE make two concurrent answers end with one winner; the loser gets a Conflict."""
    answer = customer_answer_check(
        link=link, signed_off=signed_off, typed_name=typed_name, reason=reason,
        on_behalf=on_behalf, on_behalf_role=on_behalf_role,
    )
    typed_name, reason = answer.typed_name, answer.reason
    stage = lock_stage(stage_of_link(link))
    if stage.state != Stage.State.AWAITING_SIGNOFF or stage.signer_id != link.contact_id:
        raise Conflict("This stage is no longer waiting for your sign-off.")
    if not links.link_use(link):
        raise Conflict("This link has already been used.")
    from_state = stage.state
    if signed_off:
        fire_transition(stage.sign_off)
    else:
        fire_transition(stage.request_changes, reason=reason)
    stage.save()
    signoff = SignOff.objects.create(
        stage=stage,
        contact=cast(Contact, stage.signer),
        link=link,  # awaiting sign-off always has a signer
        decision=SignOff.Decision.SIGNED_OFF if signed_off else SignOff.Decision.CHANGES_REQUESTED,
        typed_name=typed_name,
        on_behalf_name=typed_name if answer.on_behalf else "",
        on_behalf_role=answer.on_behalf_role,
        reason=reason,
        ip_address=ip or None,
        user_agent=text.without_control_characters(user_agent or "")[:400],
    )
    events.customer_answer_event(signoff=signoff, from_state=from_state)
    notices.notices_cancel(target=stage, kinds=list(SIGNOFF_REMINDER_KINDS))
    notices.notice_schedule(
        kind="delivery.customer_answered",
        key=f"delivery.customer_answered:{signoff.pk}",
        target=stage,
        data={"signoff": signoff.pk},
        send_now=True,
    )
    if signed_off:
        complete_project_if_done(stage.project, by=None)
    return signoff
