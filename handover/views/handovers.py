"""The handover page, its steps (save, submit, approve, return, accept, reject) and its
printable summary."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.exceptions import Conflict
from core.http import allowed
from core.http import next_url as _next
from crm import roles
from crm.forms import add_service_errors
from crm.models import Activity
from flows import actions as flows
from handover import permissions, services
from handover.forms import AcceptForm, HandoverForm, ReasonForm, delivery_team
from handover.models import Handover, HandoverContact
from handover.views.promise_rows import acts_for, attach_forms
from handover.views.shared import conflict, contacts_of, countdown, ledger_of


def waiting_for(handover: Handover) -> tuple[str, list[str]]:
    """Who the handover waits for, and what still blocks them (the services' own rules)."""
    state = handover.state
    if handover.is_editable:
        return "the rep to complete and submit it", list(services.submit_blockers(handover).values())
    if state == Handover.State.SUBMITTED:
        return "a sales manager to review the promises and approve it", list(
            services.approve_blockers(handover).values()
        )
    if state == Handover.State.SALES_APPROVED:
        return "a delivery manager to accept it and name the delivery owner", list(
            services.accept_blockers(handover).values()
        )
    return "", []


def _handover_context(request: HttpRequest, handover: Handover, **extra: Any) -> dict[str, Any]:
    user = request.user
    deal = handover.deal
    can_prepare = allowed(permissions.require_can_prepare_handover, user, handover)
    is_sales_manager = roles.has_role(user, roles.SALES_MANAGER)
    is_delivery_manager = roles.has_role(user, roles.DELIVERY_MANAGER)
    contacts = contacts_of(handover.account_id)
    links = list(HandoverContact.objects.filter(handover=handover).select_related("contact"))
    vendor = list(handover.vendor_attendees.order_by("first_name", "username"))
    customer = list(handover.customer_attendees.order_by("first_name", "last_name"))
    form = extra.pop("form", None)
    if form is None and can_prepare and handover.is_editable:
        form = HandoverForm(
            initial=HandoverForm.initial_for(handover, links, [u.pk for u in vendor], [c.pk for c in customer]),
            contacts=contacts,
        )
    acts = acts_for(user, deal, handover)
    promises = ledger_of(deal.pk)
    attach_forms(promises, acts, contacts)
    who, blockers = waiting_for(handover)
    state = handover.state
    can_accept = state == Handover.State.SALES_APPROVED and is_delivery_manager
    history = (
        Activity.objects.filter(deal=deal)
        .filter(Q(event_type__startswith="handover.") | Q(event_type__startswith="promise."))
        .timeline()[:200]
    )
    return {
        "handover": handover,
        "deal": deal,
        "account": handover.account,
        "form": form if (can_prepare and handover.is_editable) else None,
        "links": links,
        "vendor_attendees": vendor,
        "customer_attendees": customer,
        "promises": promises,
        "acts": acts,
        "waiting_for": who,
        "blockers": blockers,
        "countdown": countdown(handover.accept_deadline, timezone.now())
        if state == Handover.State.SALES_APPROVED
        else "",
        "can_submit": can_prepare and handover.is_editable,
        "can_approve": state == Handover.State.SUBMITTED and is_sales_manager,
        "can_accept": can_accept,
        "return_form": extra.pop("return_form", None)
        or ReasonForm(prefix_id="return", label="Why does it go back to the rep?"),
        "reject_form": extra.pop("reject_form", None) or ReasonForm(prefix_id="reject", label="Why is it rejected?"),
        "accept_form": extra.pop("accept_form", None)
        or (
            AcceptForm(team=list(delivery_team()), initial={"delivery_owner": handover.proposed_delivery_owner_id})
            if can_accept
            else None
        ),
        "history": list(history),
        **extra,
    }


@login_required
@require_GET
def handover_detail(request: HttpRequest, pk: int) -> HttpResponse:
    handover = permissions.get_handover_for(request.user, pk)
    return render(request, "handover/handover_detail.html", _handover_context(request, handover))


@login_required
@require_POST
def handover_save(request: HttpRequest, pk: int) -> HttpResponse:
    handover = permissions.get_handover_for(request.user, pk)
    permissions.require_can_prepare_handover(request.user, handover)
    back = reverse("handover:handover_detail", args=[handover.pk])
    form = HandoverForm(request.POST, contacts=contacts_of(handover.account_id))
    if form.is_valid():
        try:
            services.handover_update(handover=handover, by=request.user, **form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, back)
        else:
            messages.success(request, "Handover saved.")
            return HttpResponseRedirect(back)
    return render(request, "handover/handover_detail.html", _handover_context(request, handover, form=form), status=400)


def _transition_failed(request: HttpRequest, handover: Handover, exc: ValidationError, **forms: Any) -> HttpResponse:
    """A transition's rules refused it: the page again, with the reasons by the buttons."""
    fresh = permissions.get_handover_for(request.user, handover.pk)
    errors = [msg for msgs in exc.message_dict.values() for msg in msgs] if hasattr(exc, "error_dict") else exc.messages
    context = _handover_context(request, fresh, action_errors=errors, **forms)
    return render(request, "handover/handover_detail.html", context, status=400)


@login_required
@require_POST
def handover_submit(request: HttpRequest, pk: int) -> HttpResponse:
    handover = permissions.get_handover_for(request.user, pk)
    permissions.require_can_prepare_handover(request.user, handover)
    back = reverse("handover:handover_detail", args=[handover.pk])
    try:
        services.handover_submit(handover=handover, by=request.user)
    except ValidationError as exc:
        return _transition_failed(request, handover, exc)
    except Conflict as exc:
        return conflict(request, exc, back)
    messages.success(request, "Handover submitted: a sales manager reviews it next.")
    return HttpResponseRedirect(back)


@login_required
@require_POST
def handover_approve(request: HttpRequest, pk: int) -> HttpResponse:
    handover = permissions.get_handover_for(request.user, pk)
    permissions.require_sales_manager(request.user)
    back = reverse("handover:handover_detail", args=[handover.pk])
    try:
        services.handover_approve(handover=handover, by=request.user)
    except ValidationError as exc:
        return _transition_failed(request, handover, exc)
    except Conflict as exc:
        return conflict(request, exc, _next(request, back))
    messages.success(request, f"Handover of {handover.deal.name} approved: delivery has it now.")
    return HttpResponseRedirect(_next(request, back))


def _send_back(
    request: HttpRequest, pk: int, *, require: Any, service: Any, form_name: str, label: str, done: str,
) -> HttpResponse:
    """Return and reject: a reason, then back to the rep; the form comes back with its errors."""
    handover = permissions.get_handover_for(request.user, pk)
    require(request.user)
    back = reverse("handover:handover_detail", args=[handover.pk])
    form = ReasonForm(request.POST, prefix_id=form_name, label=label)
    if form.is_valid():
        try:
            service(handover=handover, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, _next(request, back))
        else:
            messages.success(request, done.format(deal=handover.deal.name))
            return HttpResponseRedirect(_next(request, back))
    context = _handover_context(request, handover, **{f"{form_name}_form": form})
    return render(request, "handover/handover_detail.html", context, status=400)


@login_required
@require_POST
def handover_return(request: HttpRequest, pk: int) -> HttpResponse:
    return _send_back(
        request, pk, require=permissions.require_sales_manager, service=services.handover_return,
        form_name="return", label="Why does it go back to the rep?", done="Handover of {deal} returned to the rep.",
    )


@login_required
@require_POST
def handover_accept(request: HttpRequest, pk: int) -> HttpResponse:
    handover = permissions.get_handover_for(request.user, pk)
    permissions.require_delivery_manager(request.user)
    back = reverse("handover:handover_detail", args=[handover.pk])
    form = AcceptForm(request.POST, team=list(delivery_team()))
    if form.is_valid():
        try:
            flows.handover_accept(
                handover=handover, by=request.user, delivery_owner=form.owner(), options=form.options()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, _next(request, back))
        else:
            owner = form.owner()
            name = owner.get_full_name() or owner.get_username()
            messages.success(request, f"Handover accepted; the customer is being introduced to {name}.")
            return HttpResponseRedirect(back)
    fresh = permissions.get_handover_for(request.user, handover.pk)
    return render(
        request, "handover/handover_detail.html", _handover_context(request, fresh, accept_form=form), status=400
    )


@login_required
@require_POST
def handover_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _send_back(
        request, pk, require=permissions.require_delivery_manager, service=services.handover_reject,
        form_name="reject", label="Why is it rejected?", done="Handover of {deal} rejected; it went back to the rep.",
    )


@login_required
@require_GET
def handover_summary(request: HttpRequest, pk: int) -> HttpResponse:
    handover = permissions.get_handover_for(request.user, pk)
    context = {
        "handover": handover,
        "deal": handover.deal,
        "account": handover.account,
        "links": list(HandoverContact.objects.filter(handover=handover).select_related("contact")),
        "vendor_attendees": list(handover.vendor_attendees.order_by("first_name", "username")),
        "customer_attendees": list(handover.customer_attendees.order_by("first_name", "last_name")),
        "proposed": handover.proposed_delivery_owner,
        "promises": ledger_of(handover.deal_id),
        "countdown": countdown(handover.accept_deadline, timezone.now())
        if handover.state == Handover.State.SALES_APPROVED
        else "",
    }
    return render(request, "handover/summary.html", context)
