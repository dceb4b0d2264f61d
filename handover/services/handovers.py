"""The handover: its draft for a won deal, its preparation, what blocks each step, and the
steps themselves (submit, approve, return, reject, accept), then the open handovers following
the account's owner."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.exceptions import Conflict
from core.transitions import fire_transition
from core.validation import validate_model
from crm import roles
from crm.models import Account, AccountTeamMember, Contact, Deal
from crm.services import account_hand_to_delivery, account_lifecycle_change, team_member_join
from handover import events, permissions
from handover.models import Handover, HandoverContact, Promise, PromiseReview
from handover.services.shared import check_contact
from outbox import notices

HANDOVER_FIELDS = (
    "purchased",
    "customer_expectations",
    "risks",
    "meeting_at",
    "meeting_minutes",
    "meeting_held",
    "proposed_delivery_owner",
)


def add_working_days(start: datetime, days: int) -> datetime:
    """`days` working days (Monday to Friday) after `start`, at the same time of day."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def _purchased_summary(deal: Deal) -> str:
    lines = [
        f"{item.quantity.normalize()} x {item.name} ({item.get_kind_display().lower()})"
        for item in deal.line_items.all()
    ]
    return "\n".join(lines)


@transaction.atomic
def handover_open_for_deal(*, deal: Deal, by: Any) -> Handover:
    """The draft for a won deal, prefilled with what was sold and the account's active contacts.
    Called by the deal-winning flow; returns the existing one if any."""
    existing = Handover.objects.filter(deal=deal).first()
    if existing is not None:
        return existing
    if deal.stage != Deal.Stage.WON:
        raise Conflict("A handover is prepared for a won deal.")
    handover = Handover.objects.create(
        deal=deal,
        account=deal.account,
        rep=deal.owner,
        purchased=_purchased_summary(deal),
    )
    contacts = Contact.objects.filter(account=deal.account, is_active=True)
    HandoverContact.objects.bulk_create(
        HandoverContact(handover=handover, contact=c, delivery_role=c.get_role_display()) for c in contacts
    )
    events.handover_created_event(handover=handover, by=by)
    return handover


def reopen_blocker(deal: Deal) -> str:
    """Why the deal's handover keeps the won deal from being reopened ("" when nothing does)."""
    handover = Handover.objects.filter(deal=deal).only("state", "submitted_at", "deal").first()
    return _reopen_blocker(handover) if handover is not None else ""


def _reopen_blocker(handover: Handover) -> str:
    if handover.state == Handover.State.DRAFT and handover.submitted_at is None:
        return ""
    return (
        f"Its handover is {handover.get_state_display().lower()}: a won deal can be reopened only while "
        "its handover is a draft not yet submitted."
    )


@transaction.atomic
def handover_discard_for_deal(*, deal: Deal, by: Any) -> None:
    """The draft of a deal being reopened is discarded: it was prepared for a sale that is not
    one any more, and winning the deal again drafts a fresh one. Only a draft never submitted
    goes; once sales or delivery have seen it (submitted, returned, approved, rejected, accepted)
    the deal cannot be reopened, and this refuses. Called by the reopening flow; a deal without
    a handover has nothing to discard."""
    existing = Handover.objects.filter(deal=deal).values_list("pk", flat=True).first()
    if existing is None:
        return
    handover = _lock(Handover(pk=existing, account_id=deal.account_id))
    permissions.require_can_prepare_handover(by, handover)
    blocker = _reopen_blocker(handover)
    if blocker:
        raise Conflict(blocker)
    events.handover_discarded_event(handover=handover, by=by)
    handover.delete()  # its contacts and attendees go with it


def _lock(handover: Handover) -> Handover:
    """Account, then deal, then handover: the order reassignment and the deal services use."""
    Account.objects.select_for_update().filter(pk=handover.account_id).values_list("pk").get()
    if Handover.objects.select_for_update().filter(pk=handover.pk).values_list("pk").first() is None:
        # Discarded while the caller waited (its deal was reopened): a state, not a missing page.
        raise Conflict("This handover was discarded: its deal was reopened. Nothing was changed.")
    return Handover.objects.select_related("deal", "account", "rep", "delivery_owner").get(pk=handover.pk)


@transaction.atomic
def handover_update(
    *,
    handover: Handover,
    by: Any,
    contacts: list[tuple[Contact, str]] | None = None,
    vendor_attendees: list[Any] | None = None,
    customer_attendees: list[Contact] | None = None,
    **data: Any,
) -> Handover:
    handover = _lock(handover)
    permissions.require_can_prepare_handover(by, handover)
    if not handover.is_editable:
        raise Conflict(f"The handover is {handover.get_state_display().lower()}; it cannot be edited now.")
    unknown = set(data) - set(HANDOVER_FIELDS)
    if unknown:
        raise ValidationError({n: "This field cannot be changed here." for n in sorted(unknown)})
    changed = [name for name, value in data.items() if getattr(handover, name) != value]
    for name, value in data.items():
        setattr(handover, name, value)
    owner = handover.proposed_delivery_owner
    if owner is not None and not (owner.is_active and roles.has_role(owner, roles.DELIVERY_TEAM)):
        raise ValidationError({"proposed_delivery_owner": "Propose an active delivery team member."})
    if handover.meeting_held and handover.meeting_at is None:
        raise ValidationError({"meeting_at": "A held meeting has a date."})
    if handover.meeting_held and handover.meeting_at and handover.meeting_at > timezone.now():
        raise ValidationError({"meeting_held": "The meeting date is in the future; it has not been held yet."})
    validate_model(handover, exclude=["vendor_attendees", "customer_attendees"])
    handover.save()
    # The form posts the contacts and attendees back every time: only a difference is a change.
    if contacts is not None:
        for contact, _role in contacts:
            check_contact(contact, handover.account, "contacts")
        wanted = sorted((c.pk, (role or "")[:120]) for c, role in contacts)
        if wanted != sorted(handover.contacts.values_list("contact_id", "delivery_role")):
            handover.contacts.all().delete()
            HandoverContact.objects.bulk_create(
                HandoverContact(handover=handover, contact_id=pk, delivery_role=role) for pk, role in wanted
            )
            changed.append("contacts")
    if customer_attendees is not None:
        for contact in customer_attendees:
            check_contact(contact, handover.account, "customer_attendees")
        if {c.pk for c in customer_attendees} != set(handover.customer_attendees.values_list("pk", flat=True)):
            handover.customer_attendees.set(customer_attendees)
            changed.append("customer_attendees")
    if vendor_attendees is not None and (
        {u.pk for u in vendor_attendees} != set(handover.vendor_attendees.values_list("pk", flat=True))
    ):
        handover.vendor_attendees.set(vendor_attendees)
        changed.append("vendor_attendees")
    if changed:
        events.handover_updated_event(handover=handover, by=by, changed=changed)
    return handover


def _promises(handover: Handover) -> list[Promise]:
    return list(Promise.objects.filter(deal_id=handover.deal_id).with_reviews())


def submit_blockers(handover: Handover) -> dict[str, str]:
    """What stops the rep from submitting, by field (empty when it can go)."""
    problems: dict[str, str] = {}
    if not handover.purchased.strip():
        problems["purchased"] = "Say what was purchased."
    if not handover.customer_expectations.strip():
        problems["customer_expectations"] = "Write the customer's expectations in their own words."
    if not handover.contacts.exists():
        problems["contacts"] = "Name at least one customer contact for delivery."
    for promise in _promises(handover):
        if promise.state == Promise.State.ACTIVE and (not promise.description.strip() or not promise.source):
            problems["promises"] = "Complete every promise's details."
    return problems


def approve_blockers(handover: Handover) -> dict[str, str]:
    problems = {}
    for promise in _promises(handover):
        if promise.state == Promise.State.WITHDRAWN:
            continue
        review = promise.latest_sales_review
        if review is None:
            problems["promises"] = "Review every promise first."
        elif review.verdict == PromiseReview.Verdict.NOT_ACCEPTABLE and not promise.is_resolved_by_customer:
            problems["promises"] = "A promise is not acceptable: it must be reset with the customer or withdrawn."
    return problems


def accept_blockers(handover: Handover) -> dict[str, str]:
    problems = {}
    for promise in _promises(handover):
        if promise.state == Promise.State.WITHDRAWN:
            continue
        review = promise.latest_feasibility_review
        if review is None:
            problems["promises"] = "Review every promise's feasibility first."
        elif review.verdict == PromiseReview.Verdict.NOT_FEASIBLE and not promise.is_resolved_by_customer:
            problems["promises"] = "A promise is not feasible: it must be reset with the customer or withdrawn."
    if not handover.meeting_held:
        problems["meeting_held"] = "Hold the handover meeting (and record it) before accepting."
    return problems


@transaction.atomic
def handover_submit(*, handover: Handover, by: Any) -> Handover:
    handover = _lock(handover)
    permissions.require_can_prepare_handover(by, handover)
    if not handover.is_editable:
        raise Conflict(f"The handover is {handover.get_state_display().lower()}; it cannot be submitted.")
    problems = submit_blockers(handover)
    if problems:
        raise ValidationError(problems)
    from_state = handover.state
    fire_transition(handover.submit)
    handover.save()
    events.handover_transition_event(handover=handover, by=by, from_state=from_state)
    return handover


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required."})
    if len(reason) > 2000:
        raise ValidationError({"reason": "Keep the reason under 2000 characters."})
    return reason


@transaction.atomic
def handover_approve(*, handover: Handover, by: Any) -> Handover:
    permissions.require_sales_manager(by)
    handover = _lock(handover)
    if handover.state != Handover.State.SUBMITTED:
        raise Conflict(f"The handover is {handover.get_state_display().lower()}; only a submitted one is approved.")
    problems = approve_blockers(handover)
    if problems:
        raise ValidationError(problems)
    from_state = handover.state
    days = settings.KEEPWARM["HANDOVER_ACCEPT_WORKING_DAYS"]
    fire_transition(handover.approve, deadline=add_working_days(timezone.now(), days))
    handover.save()
    events.handover_transition_event(handover=handover, by=by, from_state=from_state)
    return handover


def _send_back(*, handover: Handover, by: Any, reason: str, transition: str) -> Handover:
    """Return (sales) and reject (delivery) both send the handover back to the rep with a reason
    and an email; only the transition differs."""
    reason = _reason(reason)
    handover = _lock(handover)
    from_state = handover.state
    fire_transition(getattr(handover, transition), reason=reason)
    handover.save()
    event = events.handover_transition_event(handover=handover, by=by, from_state=from_state, reason=reason)
    # Through the outbox, keyed by this return's event: each return emails the rep once, and a
    # send that fails is retried, then shown failed in the admin.
    notices.notice_schedule(
        kind="handover.back_notice", key=f"handover.back_notice:{handover.pk}:{event.pk}", target=handover,
        send_now=True,
    )
    return handover


@transaction.atomic
def handover_return(*, handover: Handover, by: Any, reason: str) -> Handover:
    permissions.require_sales_manager(by)
    return _send_back(handover=handover, by=by, reason=reason, transition="return_to_rep")


@transaction.atomic
def handover_reject(*, handover: Handover, by: Any, reason: str) -> Handover:
    permissions.require_delivery_manager(by)
    return _send_back(handover=handover, by=by, reason=reason, transition="reject")


@transaction.atomic
def handover_accept(*, handover: Handover, by: Any, delivery_owner: Any) -> Handover:
    """Accepting, in one transaction: the state, the delivery owner on the account team, a
    ledger row "handover to delivery" and the events; the acceptance flow then starts delivery
    and the check-ups in the same transaction. Emails go after commit."""
    permissions.require_delivery_manager(by)
    if (
        delivery_owner is None
        or not delivery_owner.is_active
        or not roles.has_role(delivery_owner, roles.DELIVERY_TEAM)
    ):
        raise ValidationError({"delivery_owner": "Name an active delivery team member as delivery owner."})
    handover = _lock(handover)
    if handover.state != Handover.State.SALES_APPROVED:
        raise Conflict(f"The handover is {handover.get_state_display().lower()}; only an approved one is accepted.")
    problems = accept_blockers(handover)
    if problems:
        raise ValidationError(problems)
    from_state = handover.state
    fire_transition(handover.accept, delivery_owner=delivery_owner)
    handover.save()
    account = handover.account
    team_member_join(account=account, user=delivery_owner, role=AccountTeamMember.Role.DELIVERY_OWNER, by=by)
    if account.owner_id != delivery_owner.pk:
        account_hand_to_delivery(
            account=account,
            to_user=delivery_owner,
            by=by,
            note=f"Handover of {handover.deal.name} accepted. Customer expectations: {handover.customer_expectations}"[
                :5000
            ],
        )
    account_lifecycle_change(
        account=account, to=Account.Lifecycle.ONBOARDING, by=by,
        only_from=(Account.Lifecycle.PROSPECT, Account.Lifecycle.CUSTOMER),
    )
    events.handover_transition_event(handover=handover, by=by, from_state=from_state)

    from handover.tasks import acceptance_emails_owe

    acceptance_emails_owe(handover)
    return handover


# --- Following the account's owner ------------------------------------------------------------


def handover_move_rep(*, account: Account, from_user: Any, to_user: Any) -> int:
    """Reassignment moves the account's open handovers to the new owner; promise makers never move."""
    return (
        Handover.objects.filter(account=account, rep=from_user)
        .exclude(state=Handover.State.ACCEPTED)
        .update(rep=to_user)
    )
