"""The write path for delivery: projects, stages, customer sign-off and problems. Same shape as
crm.services: keyword-only, atomic, row-locked, permission-checked, an event row per change,
side effects (emails) after commit through the outbox or the link task."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from core import text
from core.exceptions import Conflict
from core.transitions import fire_transition
from core.validation import validate_model
from crm import roles
from crm.models import Account, AccountTeamMember, Contact
from crm.services import account_lifecycle_change
from customer_links import services as links
from customer_links import tasks as customer_links_tasks
from customer_links.models import CustomerLink
from delivery import events, permissions
from delivery.models import PlanTemplate, Problem, Project, SignOff, Stage
from handover.models import Handover, Promise
from handover.services import promise_mark_outcome, promises_break
from outbox import notices

User = get_user_model()

STAGE_FIELDS = ("due_date", "description", "delivered")
TEXT_LIMIT = 5000
SIGNOFF_REMINDER_KINDS = ("delivery.signoff_reminder", "delivery.signoff_reminder_owner")


def _setting(name: str) -> Any:
    return settings.KEEPWARM[name]


# --- Plans and projects -----------------------------------------------------------------------


def plan_template_default() -> PlanTemplate | None:
    active = PlanTemplate.objects.filter(is_active=True)
    return active.filter(name=_setting("DEFAULT_PLAN_TEMPLATE")).first() or active.order_by("pk").first()


def plan_template_choose(template_id: Any) -> PlanTemplate:
    if template_id:
        template = PlanTemplate.objects.filter(pk=template_id, is_active=True).first()
        if template is None:
            raise ValidationError({"plan_template": "Choose one of the active delivery plans."})
        return template
    template = plan_template_default()
    if template is None:
        raise ValidationError({"plan_template": "There is no delivery plan yet; an administrator adds one."})
    return template


def project_start(*, handover: Handover, by: Any, template_id: Any = None) -> Project:
    """The delivery project for an accepted handover, its stages copied from the plan, due
    dates following one another from the acceptance date. Runs inside the acceptance
    transaction (the acceptance flow calls it): if it fails, nothing is accepted."""
    template = plan_template_choose(template_id)
    plan = list(template.stages.order_by("position"))
    if not plan:
        raise ValidationError({"plan_template": f"The plan {template.name!r} has no stages."})
    if handover.delivery_owner is None:
        raise ValidationError({"delivery_owner": "An accepted handover names its delivery owner."})
    project = Project.objects.create(
        handover=handover,
        account=handover.account,
        deal=handover.deal,
        owner=handover.delivery_owner,
        template=template,
    )
    due = timezone.localdate(handover.accepted_at)
    stages = []
    for position, step in enumerate(plan, start=1):
        due = due + timedelta(days=step.duration_days)
        stages.append(
            Stage(
                project=project,
                account=handover.account,
                position=position,
                name=step.name,
                description=step.description,
                needs_signoff=step.needs_signoff,
                signer_role=step.signer_role,
                due_date=due,
            )
        )
    Stage.objects.bulk_create(stages)
    events.project_started_event(project=project, by=by)
    return project


def projects_move_owner(*, account: Account, from_user: Any, to_user: Any) -> int:
    """Reassigning the account to another delivery person moves the active deliveries the
    previous owner ran (a sales rep taking the account back does not become delivery owner)."""
    if not roles.has_role(to_user, roles.DELIVERY_TEAM, roles.DELIVERY_MANAGER):
        return 0
    return Project.objects.filter(account=account, owner=from_user, state=Project.State.ACTIVE).update(owner=to_user)


def _lock_stage(stage: Stage) -> Stage:
    return (
        Stage.objects.select_for_update(of=("self",)).select_related("project__deal", "project__owner").get(pk=stage.pk)
    )


def _require_active(stage: Stage) -> None:
    if stage.project.state != Project.State.ACTIVE:
        raise Conflict("The delivery is complete; its stages no longer change.")


# --- Stages -------------------------------------------------------------------------------------


@transaction.atomic
def stage_start(*, stage: Stage, by: Any) -> Stage:
    stage = _lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    _require_active(stage)
    from_state = stage.state
    fire_transition(stage.start)
    stage.save()
    events.stage_transition_event(stage=stage, by=by, from_state=from_state)
    return stage


@transaction.atomic
def stage_complete(*, stage: Stage, by: Any) -> Stage:
    """A stage the customer does not sign off is done when the delivery owner says so."""
    stage = _lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    _require_active(stage)
    if stage.needs_signoff:
        raise Conflict("The customer signs this stage off; request their sign-off instead.")
    from_state = stage.state
    fire_transition(stage.complete)
    stage.save()
    events.stage_transition_event(stage=stage, by=by, from_state=from_state)
    _complete_project_if_done(stage.project, by=by)
    return stage


@transaction.atomic
def stage_update(*, stage: Stage, by: Any, **data: Any) -> Stage:
    stage = _lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    _require_active(stage)
    unknown = set(data) - set(STAGE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    changed = {}
    for name, value in data.items():
        if getattr(stage, name) != value:
            changed[name] = str(value) if value is not None else None
            setattr(stage, name, value)
    if stage.due_date and not (date(2000, 1, 1) <= stage.due_date <= date(2100, 12, 31)):
        raise ValidationError({"due_date": "Enter a date between 2000 and 2100."})
    validate_model(stage)
    if changed:
        stage.save(update_fields=list(changed))
        events.stage_changed_event(stage=stage, by=by, changed=changed)
    return stage


@transaction.atomic
def stage_set_promises(*, stage: Stage, by: Any, promises: list[Promise]) -> Stage:
    """The delivery owner says which of the deal's promises this stage fulfils."""
    stage = _lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    _require_active(stage)
    foreign = [p.pk for p in promises if p.deal_id != stage.project.deal_id]
    if foreign:
        raise ValidationError({"promises": "Choose promises made on this project's deal."})
    before = set(stage.promises.values_list("pk", flat=True))
    after = {p.pk for p in promises}
    if before != after:
        stage.promises.set(promises)
        events.stage_changed_event(stage=stage, by=by, changed={"promises": sorted(after)})
    return stage


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
    stage = _lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    _require_active(stage)
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
        valid_for=timedelta(days=_setting("SIGNOFF_LINK_DAYS")),
    )
    customer_links_tasks.link_send_on_commit(link)
    due = timezone.now() + timedelta(days=_setting("SIGNOFF_REMINDER_DAYS"))
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
    stage = _lock_stage(stage_of_link(link))
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
        _complete_project_if_done(stage.project, by=None)
    return signoff


def _complete_project_if_done(project: Project, *, by: Any) -> bool:
    """Every stage signed off or done: the project is complete, its promises still open are kept
    (unless an unresolved problem names them), and the account becomes an active customer."""
    project = Project.objects.select_for_update().select_related("deal", "account", "owner").get(pk=project.pk)
    if project.state != Project.State.ACTIVE:
        return False
    if project.stages.exclude(state__in=Stage.FINAL_STATES).exists():
        return False
    fire_transition(project.complete)
    project.save()
    disputed = set(
        Problem.objects.filter(state=Problem.State.OPEN, promises__deal_id=project.deal_id).values_list(
            "promises", flat=True
        )
    )
    kept, left_open = [], []
    for promise in Promise.objects.filter(deal_id=project.deal_id, state__in=Promise.OPEN_STATES).order_by("pk"):
        if promise.pk in disputed:
            left_open.append(promise.pk)
            continue
        promise_mark_outcome(promise=promise, by=by, kept=True, reason="Delivery complete.")
        kept.append(promise.pk)
    account_lifecycle_change(
        account=project.account, to=Account.Lifecycle.ACTIVE, by=by, only_from=(Account.Lifecycle.ONBOARDING,),
    )
    events.project_completed_event(project=project, by=by, kept=kept, left_open=left_open)
    return True


# --- The customer portal ------------------------------------------------------------------------


@transaction.atomic
def portal_link_issue(*, account: Account, by: Any, contact: Contact | None) -> CustomerLink:
    """A read-only portal link for the account, emailed to a contact; it replaces the previous one."""
    if not (by.pk == account.owner_id or permissions.can_raise_problem(by, account)):
        raise PermissionDenied("Only the account team sends portal links.")
    if contact is None or contact.account_id != account.pk or not contact.is_active or not contact.email:
        raise ValidationError({"contact": "Choose an active contact of this account with an email."})
    if contact.do_not_contact:
        raise ValidationError({"contact": "This contact asked not to be contacted."})
    # Two sends at once would both find no live link to revoke and both insert one, and the
    # one-live-link constraint would fail the second with an IntegrityError: the account's row
    # lock (taken first, as every account write does) makes each send replace the previous.
    Account.objects.select_for_update().filter(pk=account.pk).values_list("pk").get()
    link, _ = links.link_issue(
        purpose=CustomerLink.Purpose.PORTAL,
        account=account,
        target=account,
        contact=contact,
        by=by,
        valid_for=timedelta(days=_setting("PORTAL_LINK_DAYS")),
        reusable=True,
    )
    customer_links_tasks.link_send_on_commit(link)
    events.portal_link_sent_event(account=account, by=by, link=link, contact=contact)
    return link


@transaction.atomic
def portal_link_revoke(*, account: Account, by: Any) -> int:
    if not (by.pk == account.owner_id or permissions.can_raise_problem(by, account)):
        raise PermissionDenied("Only the account team revokes portal links.")
    revoked = links.link_revoke_live(purpose=CustomerLink.Purpose.PORTAL, target=CustomerLink.target_of(account))
    if revoked:
        events.portal_link_revoked_event(account=account, by=by)
    return revoked


# --- Problems -----------------------------------------------------------------------------------


def _problem_text(title: str, description: str) -> tuple[str, str]:
    title, description = (title or "").strip(), (description or "").strip()
    errors = {}
    if not title:
        errors["title"] = "Give the problem a short title."
    elif len(title) > 200:
        errors["title"] = "Keep the title under 200 characters."
    if len(description) > 10000:
        errors["description"] = "Keep the description under 10,000 characters."
    if errors:
        raise ValidationError(errors)
    return title, description


@transaction.atomic
def problem_raise(
    *,
    account: Account,
    by: Any,
    title: str,
    category: str,
    severity: str,
    description: str = "",
    promises: list[Promise] | tuple[Promise, ...] = (),
    source: str = Problem.Source.STAFF,
    project: Project | None = None,
    raised_by_label: str = "",
) -> Problem:
    """Records a problem. Each promise it names is marked broken (through handover's service)
    unless the category is a customer-side change; the attribution is the promise's frozen
    maker and the deal's frozen seller. Critical problems alert the owner, the delivery
    managers and the account's sales rep. `by` is None when a customer or a check-up raised it."""
    if by is not None:
        permissions.require_can_raise_problem(by, account)
    title, description = _problem_text(title, description)
    promises = list(promises)
    foreign = [p.pk for p in promises if p.account_id != account.pk]
    if foreign:
        raise ValidationError({"promises": "Choose promises made to this account."})
    if project is not None and project.account_id != account.pk:
        raise ValidationError({"project": "Choose a delivery of this account."})
    if project is None:
        deals = {p.deal_id for p in promises}
        project = (
            Project.objects.filter(account=account, deal_id__in=deals).first()
            if deals
            else Project.objects.filter(account=account, state=Project.State.ACTIVE).first()
        )
    problem = Problem(
        account=account,
        project=project,
        title=title,
        description=description,
        category=category,
        severity=severity,
        source=source,
        raised_by=by,
        raised_by_label=raised_by_label,
    )
    validate_model(problem)
    problem.save()
    problem.promises.set(promises)
    broken = promises_break(promises=promises, by=by, category=category, reason=f"Problem: {title}")
    events.problem_event(
        problem=problem,
        by=by,
        event="raised",
        body=description,
        data={
            "category": category,
            "severity": severity,
            "source": source,
            "promises": [p.pk for p in promises],
            "broken": broken,
        },
    )
    if severity == Problem.Severity.CRITICAL:
        notices.notice_schedule(
            kind="delivery.problem_critical",
            key=f"delivery.problem_critical:{problem.pk}",
            target=problem,
            send_now=True,
        )
    return problem


def _lock_problem(problem: Problem) -> Problem:
    return Problem.objects.select_for_update(of=("self",)).select_related("account", "project").get(pk=problem.pk)


@transaction.atomic
def problem_resolve(*, problem: Problem, by: Any, resolution: str) -> Problem:
    problem = _lock_problem(problem)
    permissions.require_can_work_problem(by, problem)
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": "Say how it was resolved."})
    if len(resolution) > TEXT_LIMIT:
        raise ValidationError({"resolution": f"Keep it under {TEXT_LIMIT} characters."})
    fire_transition(problem.resolve, resolution=resolution, by=by)
    problem.save()
    events.problem_event(
        problem=problem,
        by=by,
        event="resolved",
        body=resolution,
        data={
            "hours_to_resolve": round(problem.time_to_resolve.total_seconds() / 3600, 2)
            if problem.time_to_resolve
            else None
        },
    )
    return problem


@transaction.atomic
def problem_close(*, problem: Problem, by: Any) -> Problem:
    problem = _lock_problem(problem)
    permissions.require_can_work_problem(by, problem)
    fire_transition(problem.close)
    problem.save()
    events.problem_event(problem=problem, by=by, event="closed")
    return problem


@transaction.atomic
def problem_reopen(*, problem: Problem, by: Any, reason: str) -> Problem:
    problem = _lock_problem(problem)
    permissions.require_can_raise_problem(by, problem.account)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the problem is reopened."})
    if len(reason) > TEXT_LIMIT:
        raise ValidationError({"reason": f"Keep it under {TEXT_LIMIT} characters."})
    fire_transition(problem.reopen)
    problem.save()
    events.problem_event(problem=problem, by=by, event="reopened", body=reason)
    return problem


def problem_attribution(problem: Problem) -> list[dict[str, Any]]:
    """Who each of the problem's promises traces back to: the frozen maker and the deal's
    frozen seller, never the account's current owner."""
    return [
        {"promise": p, "made_by": p.made_by, "sold_by": p.deal.sold_by}
        for p in problem.promises.select_related("made_by", "deal__sold_by").order_by("pk")
    ]


def delivery_team_member(account: Account) -> Any:
    member = (
        AccountTeamMember.objects.current()
        .filter(account=account, role=AccountTeamMember.Role.DELIVERY_OWNER)
        .select_related("user")
        .first()
    )
    return member.user if member else None
