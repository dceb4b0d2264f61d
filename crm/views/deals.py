"""Deals: opening and editing one with its line items, its page, moving, winning and losing it,
and the pipeline board."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.exceptions import Conflict
from core.http import allowed, is_htmx, next_url, posted
from crm import permissions, selectors, services
from crm.forms import (
    DealCreateForm,
    DealForm,
    DealLoseForm,
    DealMoveForm,
    DealReopenForm,
    LineItemFormSet,
    add_service_errors,
    line_items_from,
)
from crm.models import Activity, Deal
from crm.views.shared import conflict, int_or_none
from flows import actions as flows


def _line_item_initial(deal: Deal) -> list[dict[str, Any]]:
    return [
        {"kind": i.kind, "name": i.name, "quantity": i.quantity, "unit_price": i.unit_price}
        for i in deal.line_items.all()
    ]


@login_required
@require_http_methods(["GET", "POST"])
def deal_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_sell_on(request.user, account)
    form = DealCreateForm(posted(request), account=account, by=request.user)
    items = LineItemFormSet(posted(request), prefix="items")
    if request.method == "POST" and form.is_valid() and items.is_valid():
        try:
            deal = services.deal_create(
                account=account, by=request.user, line_items=line_items_from(items), **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Deal {deal.name} opened.")
            return redirect("crm:deal_detail", pk=deal.pk)
    return render(request, "crm/deal_form.html", {"form": form, "items": items, "account": account, "deal": None})


@login_required
@require_http_methods(["GET", "POST"])
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deal = permissions.get_deal_for(request.user, pk)
    permissions.require_can_sell_on(request.user, deal.account)
    back = reverse("crm:deal_detail", args=[deal.pk])
    if not deal.is_open:
        messages.info(request, "A closed deal cannot be edited.")
        return HttpResponseRedirect(back)
    form = DealForm(posted(request), instance=permissions.get_deal_for(request.user, pk))
    items = LineItemFormSet(posted(request), prefix="items", initial=_line_item_initial(deal))
    if request.method == "POST" and form.is_valid() and items.is_valid():
        try:
            services.deal_update(deal=deal, by=request.user, line_items=line_items_from(items), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, back)
        else:
            messages.success(request, "Deal saved.")
            return HttpResponseRedirect(back)
    return render(request, "crm/deal_form.html", {"form": form, "items": items, "account": deal.account, "deal": deal})


@login_required
@require_GET
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = permissions.get_deal_for(request.user, pk)
    return render(request, "crm/deal_detail.html", _deal_context(request, deal))


def _deal_context(request: HttpRequest, deal: Deal, **forms: Any) -> dict[str, Any]:
    can_sell = allowed(permissions.require_can_sell_on, request.user, deal.account)
    reopen_blocker = flows.deal_reopen_blocker(deal=deal) if can_sell and not deal.is_open else ""
    return {
        "deal": deal,
        "account": deal.account,
        "line_items": list(deal.line_items.all()),
        "history": list(Activity.objects.filter(deal=deal).timeline()[:50]),
        "can_sell": can_sell,
        "stages": _stage_bar(deal),
        "move_form": forms.get("move_form") or DealMoveForm(initial={"to": deal.stage, "from_stage": deal.stage}),
        "lose_form": forms.get("lose_form") or DealLoseForm(),
        "reopen_form": forms.get("reopen_form") or DealReopenForm(),
        "reopen_blocker": reopen_blocker,
    }


def _stage_bar(deal: Deal) -> list[dict[str, Any]]:
    """The stages as the deal page's bar shows them: which one the deal is at, and which ones it
    has passed (the open stages before an open deal's, every open stage of a won one; a lost
    deal may have been lost at any of them)."""
    order = [value for value, _ in Deal.Stage.choices]
    at = order.index(deal.stage)
    return [
        {"value": value, "label": label, "current": value == deal.stage,
         "passed": value in Deal.OPEN_STAGES and (deal.stage == Deal.Stage.WON or (deal.is_open and index < at))}
        for index, (value, label) in enumerate(Deal.Stage.choices)
    ]


def _service_message(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@login_required
@require_POST
def deal_move(request: HttpRequest, pk: int) -> HttpResponse:
    """The deal page's dropdown and stage bar, and a card dropped on the board (htmx: answered with
    the board's new column totals, or the refusal's message for the card to go back)."""
    deal = permissions.get_deal_for(request.user, pk)
    permissions.require_can_sell_on(request.user, deal.account)
    back = next_url(request, reverse("crm:deal_detail", args=[deal.pk]))
    form = DealMoveForm(request.POST)
    if not form.is_valid():
        if is_htmx(request):
            return _refused(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return render(request, "crm/deal_detail.html", _deal_context(request, deal, move_form=form), status=400)
    try:
        deal = services.deal_move(
            deal=deal, by=request.user, to=form.cleaned_data["to"], from_stage=form.cleaned_data["from_stage"] or None,
        )
    except ValidationError as exc:
        if is_htmx(request):
            return _refused(request, _service_message(exc))
        add_service_errors(form, exc)
        return render(request, "crm/deal_detail.html", _deal_context(request, deal, move_form=form), status=400)
    except Conflict as exc:
        return conflict(request, exc, back)
    if is_htmx(request):
        owner = request.user if request.POST.get("mine") == "1" else None
        columns = selectors.pipeline_totals(user=request.user, owner=owner)
        return render(request, "crm/_pipeline_totals.html", {"columns": columns, "moved": deal})
    messages.success(request, f"Deal moved to {deal.get_stage_display()}.")
    return HttpResponseRedirect(back)


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "core/_conflict.html", {"message": message}, status=400)


@login_required
@require_POST
def deal_win(request: HttpRequest, pk: int) -> HttpResponse:
    deal = permissions.get_deal_for(request.user, pk)
    permissions.require_can_sell_on(request.user, deal.account)
    back = next_url(request, reverse("crm:deal_detail", args=[deal.pk]))
    try:
        flows.deal_win(deal=deal, by=request.user)
    except Conflict as exc:
        return conflict(request, exc, back)
    messages.success(request, f"Deal {deal.name} won. Congratulations!")
    return HttpResponseRedirect(back)


@login_required
@require_POST
def deal_lose(request: HttpRequest, pk: int) -> HttpResponse:
    deal = permissions.get_deal_for(request.user, pk)
    permissions.require_can_sell_on(request.user, deal.account)
    back = next_url(request, reverse("crm:deal_detail", args=[deal.pk]))
    form = DealLoseForm(request.POST)
    if form.is_valid():
        try:
            services.deal_lose(deal=deal, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, back)
        else:
            messages.success(request, f"Deal {deal.name} marked as lost.")
            return HttpResponseRedirect(back)
    return render(request, "crm/deal_detail.html", _deal_context(request, deal, lose_form=form), status=400)


@login_required
@require_POST
def deal_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    deal = permissions.get_deal_for(request.user, pk)
    permissions.require_can_sell_on(request.user, deal.account)
    back = reverse("crm:deal_detail", args=[deal.pk])
    form = DealReopenForm(request.POST)
    if form.is_valid():
        try:
            deal = flows.deal_reopen(deal=deal, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, back)
        else:
            messages.success(request, f"Deal {deal.name} reopened at {deal.get_stage_display()}.")
            return HttpResponseRedirect(back)
    return render(request, "crm/deal_detail.html", _deal_context(request, deal, reopen_form=form), status=400)


MOVE_CHOICES = [(s.value, s.label) for s in Deal.OPEN_STAGES]


@login_required
@require_GET
def pipeline(request: HttpRequest) -> HttpResponse:
    """The board; with `stage` and `after`, that column continues after the card `after` ("Show
    more": htmx gets the next cards alone, a page without script the board with them)."""
    mine = request.GET.get("mine") == "1"
    owner = request.user if mine else None
    stage = request.GET.get("stage") or None
    if stage is not None and stage not in Deal.Stage.values:
        stage = None
    after = int_or_none(request.GET.get("after")) if stage else None
    if after is not None and not 0 < after < 2**63:  # no deal has that key; the column from its start
        after = None
    if stage is not None and is_htmx(request):
        column = selectors.pipeline_more(user=request.user, owner=owner, stage=stage, after=after)
        return render(request, "crm/_pipeline_cards.html", {
            "column": column, "movable": _movable(request, [column]), "mine": mine, "move_choices": MOVE_CHOICES,
        })
    columns = selectors.pipeline(user=request.user, owner=owner, stage=stage, after=after)
    return render(request, "crm/pipeline.html", {
        "columns": columns, "mine": mine, "movable": _movable(request, columns), "paged": stage if after else None,
        "move_choices": MOVE_CHOICES,
        "lose_form": DealLoseForm(),
    })


def _movable(request: HttpRequest, columns: list[selectors.PipelineColumn]) -> set[int]:
    """The accounts whose cards the user may move (the same rule as the deal page's dropdown)."""
    return permissions.accounts_sold_on(request.user, {d.account_id for c in columns for d in c.deals})
