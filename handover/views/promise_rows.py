"""A promise's row, wherever it shows (the deal's ledger, the handover page, the review queue
and the inbox): what the user may do to it, and the small forms it carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied

from core.http import allowed
from crm import roles
from crm.models import Contact, Deal
from handover import permissions
from handover.forms import PromiseForm, ReasonForm, ResetForm, ReviewForm
from handover.models import Handover, Promise


@dataclass
class Acts:
    """What the user may do to the promises on the page (decides which buttons show)."""

    record: bool = False  # record and edit (the account's reps and pre-sales, while editable)
    review_kind: str | None = None  # "sales" or "feasibility", while reviews are open
    resolve: bool = False  # reset with the customer, or withdraw


def acts_for(user: Any, deal: Deal, handover: Handover | None, review_kind: str | None = None) -> Acts:
    accepted = handover is not None and handover.state == Handover.State.ACCEPTED
    editable = handover is None or handover.is_editable
    sells = allowed(permissions.require_can_record_promise, user, deal.account)
    kind = None
    if not accepted:
        try:
            kind = permissions.review_kind_for(user, review_kind)
        except PermissionDenied:
            kind = None
    return Acts(
        record=sells and editable and deal.stage != Deal.Stage.LOST,
        review_kind=kind,
        resolve=not accepted and (sells or roles.has_role(user, roles.SALES_MANAGER)),
    )


def attach_forms(promises: list[Promise], acts: Acts, contacts: list[Contact]) -> None:
    """Each promise row carries its own small forms (unbound unless a failed POST bound one)."""
    for p in promises:
        if acts.review_kind and p.state != Promise.State.WITHDRAWN and not hasattr(p, "review_form"):
            p.review_form = ReviewForm(kind=acts.review_kind, pk=p.pk)  # type: ignore[attr-defined]
        if acts.resolve and p.state == Promise.State.ACTIVE and not hasattr(p, "reset_form"):
            p.reset_form = ResetForm(contacts=contacts, pk=p.pk)  # type: ignore[attr-defined]
        if acts.resolve and p.state in Promise.OPEN_STATES and not hasattr(p, "withdraw_form"):
            p.withdraw_form = ReasonForm(prefix_id="withdraw", pk=p.pk, label="Why is it withdrawn?")  # type: ignore[attr-defined]
        if acts.record and p.state == Promise.State.ACTIVE and not hasattr(p, "edit_form"):
            p.edit_form = PromiseForm(initial=PromiseForm.initial_from(p), contacts=contacts, pk=p.pk)  # type: ignore[attr-defined]


# --- The promise ledger on a deal -----------------------------------------------------------
