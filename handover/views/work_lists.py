"""The work lists: the sales manager's review queue, the delivery manager's acceptance inbox and
the rep's "my handovers"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from crm import roles
from crm.models import Contact
from handover import permissions, selectors
from handover.forms import AcceptForm, ReasonForm, acceptance_offers, delivery_team
from handover.models import Handover, Promise
from handover.views.promise_rows import Acts, attach_forms
from handover.views.shared import countdown

QUEUE_LIMIT = 100  # the queue and the inbox are work lists; more than this means a staffing problem


def _work_list(state: str) -> Any:
    ledger = Promise.objects.with_reviews().select_related("reset_agreed_by")
    return (
        Handover.objects.filter(state=state)
        .select_related("deal", "account", "rep", "proposed_delivery_owner")
        .prefetch_related(
            Prefetch("deal__promises", queryset=ledger, to_attr="ledger"),
            Prefetch(
                "account__contacts", queryset=Contact.objects.order_by("-is_active", "first_name"), to_attr="people"
            ),
        )
    )


def _prepare_rows(handovers: list[Handover], acts: Acts) -> None:
    for handover in handovers:
        promises = handover.deal.ledger  # type: ignore[attr-defined]
        attach_forms(promises, acts, handover.account.people)  # type: ignore[attr-defined]
        reviewed, live = selectors.review_progress(promises, acts.review_kind or "sales")
        handover.reviewed = reviewed  # type: ignore[attr-defined]
        handover.live = live  # type: ignore[attr-defined]


def _total(handovers: list[Handover], state: str) -> int:
    """How many the work list holds: counted only when it is cut at QUEUE_LIMIT."""
    return len(handovers) if len(handovers) < QUEUE_LIMIT else Handover.objects.filter(state=state).count()


@login_required
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    permissions.require_sales_manager(request.user)
    handovers = list(_work_list(Handover.State.SUBMITTED).order_by("submitted_at", "pk")[:QUEUE_LIMIT])
    acts = Acts(review_kind="sales", resolve=True)
    _prepare_rows(handovers, acts)
    total = _total(handovers, Handover.State.SUBMITTED)
    return render(request, "handover/review_queue.html", {"handovers": handovers, "acts": acts, "total": total})


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    permissions.require_delivery_manager(request.user)
    handovers = list(_work_list(Handover.State.SALES_APPROVED).order_by("accept_deadline", "pk")[:QUEUE_LIMIT])
    acts = Acts(review_kind="feasibility", resolve=roles.has_role(request.user, roles.SALES_MANAGER))
    _prepare_rows(handovers, acts)
    team = list(delivery_team())
    now = timezone.now()
    offers = acceptance_offers()
    for handover in handovers:
        handover.countdown = countdown(handover.accept_deadline, now)  # type: ignore[attr-defined]
        handover.overdue = bool(handover.accept_deadline and handover.accept_deadline < now)  # type: ignore[attr-defined]
        handover.accept_form = AcceptForm(
            team=team, pk=handover.pk, offers=offers, initial={"delivery_owner": handover.proposed_delivery_owner_id}
        )  # type: ignore[attr-defined]
        handover.reject_form = ReasonForm(prefix_id="reject", pk=handover.pk, label="Why is it rejected?")  # type: ignore[attr-defined]
    total = _total(handovers, Handover.State.SALES_APPROVED)
    return render(request, "handover/inbox.html", {"handovers": handovers, "acts": acts, "total": total})


def _list_waiting(handover: Any, now: datetime) -> str:
    """What a handover in "my handovers" waits for, from the row alone (no query per row)."""
    state = handover.state
    if handover.is_editable:
        missing = []
        if not handover.purchased.strip():
            missing.append("what was purchased")
        if not handover.customer_expectations.strip():
            missing.append("the customer's expectations")
        if not handover.contact_count:
            missing.append("a customer contact")
        if missing:
            return "You: add " + ", ".join(missing) + ", then submit."
        return "You: submit it."
    if state == Handover.State.SUBMITTED:
        return "A sales manager's review and approval."
    if state == Handover.State.SALES_APPROVED:
        return f"Delivery's acceptance, {countdown(handover.accept_deadline, now)}."
    return "Nothing: delivery owns it now."


@login_required
@require_GET
def my_handovers(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    made_a_promise = Exists(Promise.objects.filter(deal_id=OuterRef("deal_id"), made_by=user))
    handovers = list(
        Handover.objects.visible_to(user)
        .filter(Q(rep=user) | Q(made_a_promise))
        .select_related("deal", "account", "delivery_owner")
        .annotate(contact_count=Count("contacts", distinct=True), promise_count=Count("deal__promises", distinct=True))
        .order_by("-created_at", "-pk")[:200]
    )
    now = timezone.now()
    for handover in handovers:
        handover.waiting = _list_waiting(handover, now)  # type: ignore[attr-defined]
    return render(request, "handover/my_handovers.html", {"handovers": handovers})
