"""The flows that cross apps, each a plain function read top to bottom, in one transaction.

Views, API views, admin actions, commands and tasks that start one of these call it here rather
than the app's own service, so winning a deal always drafts its handover and accepting a handover
always starts its delivery and check-ups. Each flow calls the apps' services by name, in the order
written: nothing depends on which app Django loads first. A failure anywhere rolls the whole flow
back (no accepted handover without its project and agenda).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.db import transaction

from crm import services as crm
from crm.models import Account, Contact, Deal, OwnershipChange
from crm.services import ReassignmentPlan
from customer_links import services as customer_links
from customer_links.models import CustomerLink
from delivery import services as delivery
from delivery.models import Project, SignOff, Stage
from handover import services as handover_services
from handover.models import Handover
from touchpoints import services as touchpoints

# --- Selling ----------------------------------------------------------------------------------


@transaction.atomic
def deal_win(*, deal: Deal, by: Any) -> Deal:
    """The deal is won, then its handover draft is prepared for the rep to fill in."""
    deal = crm.deal_win(deal=deal, by=by)
    handover_services.handover_open_for_deal(deal=deal, by=by)
    return deal


@transaction.atomic
def deal_reopen(*, deal: Deal, by: Any, to: str, reason: str = "") -> Deal:
    """A won or lost deal goes back to an open stage; a won one's handover draft is discarded
    with it, and once that handover was submitted the whole reopening is refused (and rolled
    back: the deal stays won with its handover)."""
    deal = crm.deal_reopen(deal=deal, by=by, to=to, reason=reason)
    handover_services.handover_discard_for_deal(deal=deal, by=by)
    return deal


def deal_reopen_blocker(*, deal: Deal) -> str:
    """Why `deal_reopen` would refuse this deal ("" when it would not), for the page to offer the
    button or say why not. The flow checks it again under its locks."""
    if deal.is_open:
        return "The deal is open."
    if deal.stage == Deal.Stage.WON:
        return handover_services.reopen_blocker(deal)
    return ""


# --- Handing over to delivery -----------------------------------------------------------------


@transaction.atomic
def handover_accept(
    *, handover: Handover, by: Any, delivery_owner: Any, options: dict[str, Any] | None = None,
) -> Handover:
    """Delivery accepts the handover, the project starts with the plan the delivery manager
    chose (`options["plan_template"]`, else the default one), then the check-ups counted from
    the acceptance are scheduled."""
    handover = handover_services.handover_accept(handover=handover, by=by, delivery_owner=delivery_owner)
    project = delivery.project_start(handover=handover, by=by, template_id=(options or {}).get("plan_template"))
    touchpoints.agenda_schedule(
        handover=handover, anchor="accepted", anchor_at=cast(datetime, handover.accepted_at), project=project,
    )
    return handover


# --- Delivering -------------------------------------------------------------------------------


@transaction.atomic
def stage_complete(*, stage: Stage, by: Any) -> Stage:
    """The delivery owner marks a stage done; if it was the last one, the go-live follows."""
    stage = delivery.stage_complete(stage=stage, by=by)
    _go_live_if_complete(project_id=stage.project_id)
    return stage


@transaction.atomic
def customer_answer(
    *, link: CustomerLink, signed_off: bool, typed_name: str, reason: str = "", ip: str | None, user_agent: str,
    on_behalf: bool = False, on_behalf_role: str = "",
) -> SignOff:
    """The customer answers on a sign-off link; signing off the last stage is the go-live."""
    signoff = delivery.customer_answer(
        link=link, signed_off=signed_off, typed_name=typed_name, reason=reason, ip=ip, user_agent=user_agent,
        on_behalf=on_behalf, on_behalf_role=on_behalf_role,
    )
    _go_live_if_complete(project_id=signoff.stage.project_id)
    return signoff


def _go_live_if_complete(*, project_id: int) -> None:
    """The stage just finished belonged to an active project (delivery refuses stages of a
    complete one), so a project complete now completed in this flow: the check-ups counted from
    the go-live are scheduled."""
    project = Project.objects.select_related("handover").get(pk=project_id)
    if project.state == Project.State.COMPLETE:
        touchpoints.agenda_schedule(
            handover=project.handover, anchor="go_live", anchor_at=cast(datetime, project.completed_at),
            project=project,
        )


# --- Changing owners --------------------------------------------------------------------------


@transaction.atomic
def account_reassign(
    *, account: Any, to_user: Any, by: Any, reason: str = OwnershipChange.Reason.REASSIGNMENT, note: str = "",
) -> OwnershipChange:
    """The account gets a new owner, then its open work follows them."""
    change = crm.account_reassign(account=account, to_user=to_user, by=by, reason=reason, note=note)
    _work_follows_owner(change)
    return change


@transaction.atomic
def book_reassign(
    *, from_user: Any, to_user: Any, by: Any, reason: str = OwnershipChange.Reason.DEPARTURE, note: str = "",
    assignments: dict[int, Any] | None = None, preview: bool = False,
) -> ReassignmentPlan:
    """A whole book to a successor (`preview=True` writes nothing), then the open work follows."""
    plan = crm.book_reassign(
        from_user=from_user, to_user=to_user, by=by, reason=reason, note=note, assignments=assignments,
        preview=preview,
    )
    if plan.applied:
        _book_work_follows(plan=plan, to_user=to_user, by=by, reason=reason)
    return plan


@transaction.atomic
def user_deactivate(*, user: Any, by: Any, successor: Any = None, note: str = "") -> ReassignmentPlan | None:
    """A person leaves: their book goes to the successor (a departure), then its open work."""
    plan = crm.user_deactivate(user=user, by=by, successor=successor, note=note)
    if plan is not None:
        _book_work_follows(plan=plan, to_user=successor, by=by, reason=OwnershipChange.Reason.DEPARTURE)
    return plan


def _work_follows_owner(change: OwnershipChange) -> None:
    """The open handovers, the active deliveries and the scheduled check-ups of the previous
    owner on this account go to the new one."""
    account, from_user, to_user = change.account, change.from_user, change.to_user
    handover_services.handover_move_rep(account=account, from_user=from_user, to_user=to_user)
    delivery.projects_move_owner(account=account, from_user=from_user, to_user=to_user)
    touchpoints.touchpoints_move_owner(account=account, from_user=from_user, to_user=to_user)


def _book_work_follows(*, plan: ReassignmentPlan, to_user: Any, by: Any, reason: str) -> None:
    for change in plan.changes:
        _work_follows_owner(change)
    if reason == OwnershipChange.Reason.DEPARTURE:
        # A departing user's remaining check-ups, on accounts they did not own, go too.
        touchpoints.touchpoints_hand_over(from_user=plan.from_user, to_user=to_user, by=by)


# --- Contacts ---------------------------------------------------------------------------------


@transaction.atomic
def contact_update(*, contact: Contact, by: Any, **data: Any) -> Contact:
    """The contact is updated; one who has just left or asked not to be contacted gets no more
    check-ups or surveys."""
    before = Contact.objects.filter(pk=contact.pk).values_list("is_active", "do_not_contact").get()
    contact = crm.contact_update(contact=contact, by=by, **data)
    unreachable = not contact.is_active or contact.do_not_contact
    if unreachable and (contact.is_active, contact.do_not_contact) != before:
        touchpoints.touchpoints_drop_contact(contact)
    return contact


# --- Duplicates -------------------------------------------------------------------------------


@transaction.atomic
def account_merge(*, account: Account, into: Account, by: Any) -> Account:
    """A duplicate account is merged into the survivor: crm checks who may merge and locks both
    accounts (in primary-key order), then every app's rows that point at the merged account go
    to the survivor, then crm moves its own (contacts, deals, timeline, team, ledger), leaves
    the merged account as a tombstone and records the merge on both timelines."""
    merged, survivor = crm.account_merge_begin(account=account, into=into, by=by)
    moved = crm.rows_pointing_at(merged)
    customer_links.links_move_to_account(from_account=merged, to_account=survivor)
    handover_services.handovers_move_to_account(from_account=merged, to_account=survivor)
    delivery.projects_move_to_account(from_account=merged, to_account=survivor)
    touchpoints.touchpoints_move_to_account(from_account=merged, to_account=survivor)
    return crm.account_merge_finish(merged=merged, survivor=survivor, by=by, moved=moved)


@transaction.atomic
def contact_merge(*, contact: Contact, into: Contact, by: Any) -> Contact:
    """A duplicate contact of the same account is merged into the survivor: promises made to
    them, their sign-offs, links, check-ups and survey answers name the survivor, then crm
    leaves the merged contact as a tombstone and records the merge on the timeline."""
    merged, survivor = crm.contact_merge_begin(contact=contact, into=into, by=by)
    moved = crm.rows_pointing_at(merged)
    customer_links.links_move_to_contact(from_contact=merged, to_contact=survivor)
    handover_services.promises_move_to_contact(from_contact=merged, to_contact=survivor)
    delivery.signoffs_move_to_contact(from_contact=merged, to_contact=survivor)
    touchpoints.touchpoints_move_to_contact(from_contact=merged, to_contact=survivor)
    return crm.contact_merge_finish(merged=merged, survivor=survivor, by=by, moved=moved)
