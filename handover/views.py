"""The browser UI of the handover: the promise ledger on a deal, the handover page and its
printable summary, the sales manager's review queue, the delivery manager's acceptance inbox and
the rep's "my handovers".

Same rules as crm.views: objects come through handover.permissions (404 for what the user may not
see), writes go only through handover.services (403 from their PermissionDenied, field messages
from their ValidationError, a plain message and 409 for htmx from their Conflict). GET never
changes anything; every action URL is POST only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.exceptions import Conflict
from core.http import conflict_response
from core.http import next_url as _next
from crm import roles
from crm.forms import add_service_errors
from crm.models import Activity, Contact, Deal
from crm.permissions import get_deal_for
from flows import actions as flows
from handover import permissions, selectors, services
from handover.forms import (
    AcceptForm,
    HandoverForm,
    PromiseForm,
    ReasonForm,
    ResetForm,
    ReviewForm,
    acceptance_offers,
    delivery_team,
)
from handover.models import Handover, HandoverContact, Promise

QUEUE_LIMIT = 100  # the queue and the inbox are work lists; more than this means a staffing problem


# --- Small helpers --------------------------------------------------------------------------


def _allowed(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except PermissionDenied:
        return False
    return True


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))



def _conflict(request: HttpRequest, exc: Conflict, back: str) -> HttpResponse:
    return conflict_response(request, exc, back)


def _contacts(account_id: int) -> list[Contact]:
    return list(Contact.objects.filter(account_id=account_id).order_by("-is_active", "first_name", "last_name"))


def _promises(deal_id: int) -> list[Promise]:
    return list(Promise.objects.filter(deal_id=deal_id).with_reviews().select_related("reset_agreed_by"))


def countdown(deadline: datetime | None, now: datetime) -> str:
    """ "due in 1 day 3 h" / "overdue by 2 h": the acceptance deadline in words, server-side."""
    if deadline is None:
        return ""
    seconds = (deadline - now).total_seconds()
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'' if days == 1 else 's'}")
    if hours:
        parts.append(f"{hours} h")
    if not parts:
        parts.append(f"{mins} min")
    text = " ".join(parts)
    return f"due in {text}" if seconds >= 0 else f"overdue by {text}"


@dataclass
class Acts:
    """What the user may do to the promises on the page (decides which buttons show)."""

    record: bool = False  # record and edit (the account's reps and pre-sales, while editable)
    review_kind: str | None = None  # "sales" or "feasibility", while reviews are open
    resolve: bool = False  # reset with the customer, or withdraw


def _acts(user: Any, deal: Deal, handover: Handover | None, review_kind: str | None = None) -> Acts:
    accepted = handover is not None and handover.state == Handover.State.ACCEPTED
    editable = handover is None or handover.is_editable
    sells = _allowed(permissions.require_can_record_promise, user, deal.account)
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


def _attach_forms(promises: list[Promise], acts: Acts, contacts: list[Contact]) -> None:
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


def _ledger_context(request: HttpRequest, deal: Deal, *, failed: Promise | None = None, **forms: Any) -> dict[str, Any]:
    handover = Handover.objects.filter(deal=deal).first()
    acts = _acts(request.user, deal, handover)
    contacts = _contacts(deal.account_id)
    promises = _promises(deal.pk)
    if failed is not None:
        # Put the failed form (with its messages) on the row it belongs to.
        for i, p in enumerate(promises):
            if p.pk == failed.pk:
                promises[i] = failed
    _attach_forms(promises, acts, contacts)
    return {
        "deal": deal,
        "account": deal.account,
        "handover": handover,
        "promises": promises,
        "acts": acts,
        "promise_form": forms.get("promise_form") or PromiseForm(contacts=[c for c in contacts if c.is_active]),
    }


@login_required
@require_GET
def deal_promises(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_deal_for(request.user, pk)
    return render(request, "handover/deal_promises.html", _ledger_context(request, deal))


@login_required
@require_POST
def promise_record(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_deal_for(request.user, pk)
    permissions.require_can_record_promise(request.user, deal.account)
    back = reverse("handover:deal_promises", args=[deal.pk])
    contacts = [c for c in _contacts(deal.account_id) if c.is_active]
    form = PromiseForm(request.POST, contacts=contacts)
    if form.is_valid():
        try:
            promise = services.promise_record(deal=deal, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, back)
        else:
            if _htmx(request):
                handover = Handover.objects.filter(deal=deal).first()
                acts = _acts(request.user, deal, handover)
                fresh = Promise.objects.with_reviews().select_related("reset_agreed_by").get(pk=promise.pk)
                _attach_forms([fresh], acts, _contacts(deal.account_id))
                return render(
                    request,
                    "handover/_promise_recorded.html",
                    {"deal": deal, "promise": fresh, "acts": acts, "promise_form": PromiseForm(contacts=contacts)},
                )
            messages.success(request, "Promise recorded.")
            return HttpResponseRedirect(back)
    if _htmx(request):
        return render(request, "handover/_promise_form.html", {"deal": deal, "promise_form": form})
    return render(request, "handover/deal_promises.html", _ledger_context(request, deal, promise_form=form), status=400)


def _promise_answer(
    request: HttpRequest, promise: Promise, *, ok: str = "", failed: Promise | None = None
) -> HttpResponse:
    """After an in-place action: the row again for htmx (fresh, or with the failed form), else
    a redirect back (or the whole ledger with the form's messages, 400)."""
    deal = Deal.objects.select_related("account").get(pk=promise.deal_id)
    if not _htmx(request):
        if failed is None:
            messages.success(request, ok)
            return HttpResponseRedirect(_next(request, reverse("handover:deal_promises", args=[deal.pk])))
        return render(request, "handover/deal_promises.html", _ledger_context(request, deal, failed=failed), status=400)
    handover = Handover.objects.filter(deal=deal).first()
    acts = _acts(request.user, deal, handover, request.POST.get("kind") or None)
    if failed is not None:
        row = failed
    else:
        row = Promise.objects.with_reviews().select_related("reset_agreed_by").get(pk=promise.pk)
        row.flash = ok  # type: ignore[attr-defined]
    _attach_forms([row], acts, _contacts(deal.account_id))
    card = handover.pk if handover and request.POST.get("card") == str(handover.pk) else None
    response = render(
        request, "handover/_promise.html",
        {"promise": row, "acts": acts, "next": request.POST.get("next", ""), "card": card},
    )
    if card is not None and failed is None:
        # On a queue or inbox card the "1 of 2 promises reviewed" line changes with the row.
        kind = acts.review_kind or "sales"
        reviewed, live = selectors.review_progress(Promise.objects.filter(deal=deal).with_reviews(), kind)
        response.write(render_to_string(
            "handover/_review_progress.html",
            {"handover": handover, "reviewed": reviewed, "live": live, "kind": kind, "oob": True},
        ))
    return response


def _failed_row(promise: Promise, open_form: str, **forms: Any) -> Promise:
    row = Promise.objects.with_reviews().select_related("reset_agreed_by").get(pk=promise.pk)
    for name, form in forms.items():
        setattr(row, name, form)
    row.open_form = open_form  # type: ignore[attr-defined]
    return row


def _review_kind_asked(request: HttpRequest) -> str | None:
    kind = request.POST.get("kind") or None
    return kind if kind in ("sales", "feasibility") else None


@login_required
@require_POST
def promise_review(request: HttpRequest, pk: int) -> HttpResponse:
    promise = permissions.get_promise_for(request.user, pk)
    kind = permissions.review_kind_for(request.user, _review_kind_asked(request))
    form = ReviewForm(request.POST, kind=kind, pk=promise.pk)
    if form.is_valid():
        try:
            review = services.promise_review(promise=promise, by=request.user, kind=kind, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, reverse("handover:deal_promises", args=[promise.deal_id]))
        else:
            return _promise_answer(request, promise, ok=f"{review.get_kind_display()}: {review.get_verdict_display()}.")
    return _promise_answer(request, promise, failed=_failed_row(promise, "review", review_form=form))


@login_required
@require_POST
def promise_edit(request: HttpRequest, pk: int) -> HttpResponse:
    promise = permissions.get_promise_for(request.user, pk)
    permissions.require_can_record_promise(request.user, promise.account)
    form = PromiseForm(request.POST, contacts=_contacts(promise.account_id), pk=promise.pk)
    if form.is_valid():
        try:
            services.promise_update(promise=promise, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, reverse("handover:deal_promises", args=[promise.deal_id]))
        else:
            return _promise_answer(request, promise, ok="Promise saved.")
    return _promise_answer(request, promise, failed=_failed_row(promise, "edit", edit_form=form))


def _require_can_resolve(user: Any, promise: Promise) -> None:
    """Reset and withdrawal: the account's reps and pre-sales, and sales managers (the service
    checks it again; checking first makes the wrong role a 403 whatever was posted)."""
    if roles.has_role(user, roles.SALES_MANAGER):
        return
    permissions.require_can_record_promise(user, promise.account)


@login_required
@require_POST
def promise_reset(request: HttpRequest, pk: int) -> HttpResponse:
    promise = permissions.get_promise_for(request.user, pk)
    _require_can_resolve(request.user, promise)
    form = ResetForm(request.POST, contacts=_contacts(promise.account_id), pk=promise.pk)
    if form.is_valid():
        try:
            services.promise_reset(promise=promise, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, reverse("handover:deal_promises", args=[promise.deal_id]))
        else:
            return _promise_answer(request, promise, ok="Expectation reset recorded.")
    return _promise_answer(request, promise, failed=_failed_row(promise, "reset", reset_form=form))


@login_required
@require_POST
def promise_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    promise = permissions.get_promise_for(request.user, pk)
    _require_can_resolve(request.user, promise)
    form = ReasonForm(request.POST, prefix_id="withdraw", pk=promise.pk, label="Why is it withdrawn?")
    if form.is_valid():
        try:
            services.promise_withdraw(promise=promise, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, reverse("handover:deal_promises", args=[promise.deal_id]))
        else:
            return _promise_answer(request, promise, ok="Promise withdrawn.")
    return _promise_answer(request, promise, failed=_failed_row(promise, "withdraw", withdraw_form=form))


# --- The handover page ----------------------------------------------------------------------


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
    can_prepare = _allowed(permissions.require_can_prepare_handover, user, handover)
    is_sales_manager = roles.has_role(user, roles.SALES_MANAGER)
    is_delivery_manager = roles.has_role(user, roles.DELIVERY_MANAGER)
    contacts = _contacts(handover.account_id)
    links = list(HandoverContact.objects.filter(handover=handover).select_related("contact"))
    vendor = list(handover.vendor_attendees.order_by("first_name", "username"))
    customer = list(handover.customer_attendees.order_by("first_name", "last_name"))
    form = extra.pop("form", None)
    if form is None and can_prepare and handover.is_editable:
        form = HandoverForm(
            initial=HandoverForm.initial_for(handover, links, [u.pk for u in vendor], [c.pk for c in customer]),
            contacts=contacts,
        )
    acts = _acts(user, deal, handover)
    promises = _promises(deal.pk)
    _attach_forms(promises, acts, contacts)
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
    form = HandoverForm(request.POST, contacts=_contacts(handover.account_id))
    if form.is_valid():
        try:
            services.handover_update(handover=handover, by=request.user, **form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, back)
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
        return _conflict(request, exc, back)
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
        return _conflict(request, exc, _next(request, back))
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
            return _conflict(request, exc, _next(request, back))
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
            return _conflict(request, exc, _next(request, back))
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
        "promises": _promises(handover.deal_id),
        "countdown": countdown(handover.accept_deadline, timezone.now())
        if handover.state == Handover.State.SALES_APPROVED
        else "",
    }
    return render(request, "handover/summary.html", context)


# --- Work lists -----------------------------------------------------------------------------


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
        _attach_forms(promises, acts, handover.account.people)  # type: ignore[attr-defined]
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
