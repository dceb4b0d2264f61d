"""The promise ledger on a deal: recording, editing, reviewing, resetting and withdrawing a
promise, each answered in place for htmx."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.exceptions import Conflict
from core.http import is_htmx
from core.http import next_url as _next
from crm import roles
from crm.forms import add_service_errors
from crm.models import Deal
from crm.permissions import get_deal_for
from handover import permissions, selectors, services
from handover.forms import PromiseForm, ReasonForm, ResetForm, ReviewForm
from handover.models import Handover, Promise
from handover.views.promise_rows import acts_for, attach_forms
from handover.views.shared import conflict, contacts_of, ledger_of


def _ledger_context(request: HttpRequest, deal: Deal, *, failed: Promise | None = None, **forms: Any) -> dict[str, Any]:
    handover = Handover.objects.filter(deal=deal).first()
    acts = acts_for(request.user, deal, handover)
    contacts = contacts_of(deal.account_id)
    promises = ledger_of(deal.pk)
    if failed is not None:
        # Put the failed form (with its messages) on the row it belongs to.
        for i, p in enumerate(promises):
            if p.pk == failed.pk:
                promises[i] = failed
    attach_forms(promises, acts, contacts)
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
    contacts = [c for c in contacts_of(deal.account_id) if c.is_active]
    form = PromiseForm(request.POST, contacts=contacts)
    if form.is_valid():
        try:
            promise = services.promise_record(deal=deal, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, back)
        else:
            if is_htmx(request):
                handover = Handover.objects.filter(deal=deal).first()
                acts = acts_for(request.user, deal, handover)
                fresh = Promise.objects.with_reviews().select_related("reset_agreed_by").get(pk=promise.pk)
                attach_forms([fresh], acts, contacts_of(deal.account_id))
                return render(
                    request,
                    "handover/_promise_recorded.html",
                    {"deal": deal, "promise": fresh, "acts": acts, "promise_form": PromiseForm(contacts=contacts)},
                )
            messages.success(request, "Promise recorded.")
            return HttpResponseRedirect(back)
    if is_htmx(request):
        return render(request, "handover/_promise_form.html", {"deal": deal, "promise_form": form})
    return render(request, "handover/deal_promises.html", _ledger_context(request, deal, promise_form=form), status=400)


def _promise_answer(
    request: HttpRequest, promise: Promise, *, ok: str = "", failed: Promise | None = None
) -> HttpResponse:
    """After an in-place action: the row again for htmx (fresh, or with the failed form), else
    a redirect back (or the whole ledger with the form's messages, 400)."""
    deal = Deal.objects.select_related("account").get(pk=promise.deal_id)
    if not is_htmx(request):
        if failed is None:
            messages.success(request, ok)
            return HttpResponseRedirect(_next(request, reverse("handover:deal_promises", args=[deal.pk])))
        return render(request, "handover/deal_promises.html", _ledger_context(request, deal, failed=failed), status=400)
    handover = Handover.objects.filter(deal=deal).first()
    acts = acts_for(request.user, deal, handover, request.POST.get("kind") or None)
    if failed is not None:
        row = failed
    else:
        row = Promise.objects.with_reviews().select_related("reset_agreed_by").get(pk=promise.pk)
        row.flash = ok  # type: ignore[attr-defined]
    attach_forms([row], acts, contacts_of(deal.account_id))
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
            return conflict(request, exc, reverse("handover:deal_promises", args=[promise.deal_id]))
        else:
            return _promise_answer(request, promise, ok=f"{review.get_kind_display()}: {review.get_verdict_display()}.")
    return _promise_answer(request, promise, failed=_failed_row(promise, "review", review_form=form))


@login_required
@require_POST
def promise_edit(request: HttpRequest, pk: int) -> HttpResponse:
    promise = permissions.get_promise_for(request.user, pk)
    permissions.require_can_record_promise(request.user, promise.account)
    form = PromiseForm(request.POST, contacts=contacts_of(promise.account_id), pk=promise.pk)
    if form.is_valid():
        try:
            services.promise_update(promise=promise, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, reverse("handover:deal_promises", args=[promise.deal_id]))
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
    form = ResetForm(request.POST, contacts=contacts_of(promise.account_id), pk=promise.pk)
    if form.is_valid():
        try:
            services.promise_reset(promise=promise, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, reverse("handover:deal_promises", args=[promise.deal_id]))
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
            return conflict(request, exc, reverse("handover:deal_promises", args=[promise.deal_id]))
        else:
            return _promise_answer(request, promise, ok="Promise withdrawn.")
    return _promise_answer(request, promise, failed=_failed_row(promise, "withdraw", withdraw_form=form))
