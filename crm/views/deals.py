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
from core.http import allowed, posted
from crm import permissions, selectors, services
from crm.forms import (
    DealCreateForm,
    DealForm,
    DealLoseForm,
    DealMoveForm,
    LineItemFormSet,
    add_service_errors,
    line_items_from,
)
from crm.models import Activity, Deal
from crm.views.shared import conflict
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
    return {
        "deal": deal,
        "account": deal.account,
        "line_items": list(deal.line_items.all()),
        "history": list(Activity.objects.filter(deal=deal).timeline()[:50]),
        "can_sell": allowed(permissions.require_can_sell_on, request.user, deal.account),
        "move_form": forms.get("move_form") or DealMoveForm(initial={"to": deal.stage}),
        "lose_form": forms.get("lose_form") or DealLoseForm(),
    }


@login_required
@require_POST
def deal_move(request: HttpRequest, pk: int) -> HttpResponse:
    deal = permissions.get_deal_for(request.user, pk)
    permissions.require_can_sell_on(request.user, deal.account)
    back = reverse("crm:deal_detail", args=[deal.pk])
    form = DealMoveForm(request.POST)
    if not form.is_valid():
        return render(request, "crm/deal_detail.html", _deal_context(request, deal, move_form=form), status=400)
    try:
        deal = services.deal_move(deal=deal, by=request.user, to=form.cleaned_data["to"])
    except ValidationError as exc:
        add_service_errors(form, exc)
        return render(request, "crm/deal_detail.html", _deal_context(request, deal, move_form=form), status=400)
    except Conflict as exc:
        return conflict(request, exc, back)
    messages.success(request, f"Deal moved to {deal.get_stage_display()}.")
    return HttpResponseRedirect(back)


@login_required
@require_POST
def deal_win(request: HttpRequest, pk: int) -> HttpResponse:
    deal = permissions.get_deal_for(request.user, pk)
    permissions.require_can_sell_on(request.user, deal.account)
    back = reverse("crm:deal_detail", args=[deal.pk])
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
    back = reverse("crm:deal_detail", args=[deal.pk])
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
@require_GET
def pipeline(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("mine") == "1"
    columns = selectors.pipeline(user=request.user, owner=request.user if mine else None)
    return render(request, "crm/pipeline.html", {"columns": columns, "mine": mine})
