"""The browser UI of crm: server-rendered pages, htmx for in-page actions.

Views parse input with crm.forms, fetch objects through crm.permissions (404 for what the user
may not see, 403 for what they see but may not do) and write only through crm.services. GET never
changes anything; every action URL answers 405 to GET.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import time_zones as core_time_zones
from core.exceptions import Conflict
from core.http import conflict_response
from core.names import name_of
from core.pagination import CappedPaginator
from crm import permissions, roles, selectors, services
from crm.forms import (
    AccountCreateForm,
    AccountFilterForm,
    AccountForm,
    ActivityForm,
    BookReassignForm,
    ContactForm,
    DeactivateForm,
    DealCreateForm,
    DealForm,
    DealLoseForm,
    DealMoveForm,
    LineItemFormSet,
    ProfileForm,
    ReassignForm,
    TeamMemberForm,
    add_service_errors,
    line_items_from,
)
from crm.models import Account, AccountTeamMember, Activity, Deal, UserProfile
from crm.signals import account_page_sections
from flows import actions as flows

User = get_user_model()

ACCOUNTS_PER_PAGE = 50
TIMELINE_PAGE = selectors.TIMELINE_PAGE


def _allowed(check: Callable[..., None], *args: Any) -> bool:
    """Turns a require_* helper into a yes/no for showing or hiding a button."""
    try:
        check(*args)
    except PermissionDenied:
        return False
    return True


def _conflict(request: HttpRequest, exc: Conflict, back: str) -> HttpResponse:
    # crm's pages swap the htmx answer where the request aimed, not into an alert area.
    return conflict_response(request, exc, back, alerts=False)


def _posted(request: HttpRequest) -> Any:
    """The form data of a POST, even an empty one (an empty QueryDict would leave the form unbound)."""
    return request.POST if request.method == "POST" else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


# --- Accounts -------------------------------------------------------------------------------


@login_required
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    form = AccountFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()  # invalid fields are reported and ignored; valid ones still filter
        data = getattr(form, "cleaned_data", {})
        threads = {"single": True, "multi": False}.get(data.get("threads") or "")
        filters = {
            "search": (data.get("q") or "").strip(),
            "owner": data.get("owner"),
            "lifecycle": data.get("lifecycle") or "",
            "single_threaded": threads,
            "mine": bool(data.get("mine")),
        }
    accounts = selectors.account_list(user=request.user, **filters)
    page = CappedPaginator(accounts, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "crm/account_list.html",
        {"form": form, "page": page, "filtered": any(filters.values()) if filters else False},
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    permissions.require_can_create_account(request.user)
    form = AccountCreateForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            account = services.account_create(by=request.user, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Account {account.name} created.")
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/account_form.html", {"form": form, "account": None})


@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_edit_account(request.user, account)
    form = AccountForm(_posted(request), instance=Account.objects.get(pk=account.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.account_update(account=account, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Account saved.")
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/account_form.html", {"form": form, "account": account})


def _account_context(request: HttpRequest, account: Account, *, before: int | None = None) -> dict[str, Any]:
    page = selectors.account_page(account=account, timeline_limit=TIMELINE_PAGE, timeline_before=before)
    user = request.user
    return {
        "account": account,
        "page": page,
        "before": before,
        "activity_form": ActivityForm(account=account, deals=page.deals),
        "can_edit": _allowed(permissions.require_can_edit_account, user, account),
        "can_manage_team": _allowed(permissions.require_can_manage_team, user, account),
        "can_sell": _allowed(permissions.require_can_sell_on, user, account),
        "can_reassign": roles.can_reassign(user),
        # Sections added by higher apps (delivery's projects and problems) through a signal.
        "sections": [
            section
            for _receiver, section in account_page_sections.send(
                sender=Account, account=account, user=user, contacts=page.contacts
            )
            if section
        ],
    }


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    context = _account_context(request, account, before=_int_or_none(request.GET.get("before")))
    return render(request, "crm/account_detail.html", context)


@login_required
@require_GET
def account_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """Older timeline rows for the "older" button (htmx), or the account page without htmx."""
    account = permissions.get_account_for(request.user, pk)
    before = _int_or_none(request.GET.get("before"))
    if not request.htmx:  # type: ignore[attr-defined]
        url = reverse("crm:account_detail", args=[account.pk])
        return HttpResponseRedirect(f"{url}?before={before}#timeline" if before else f"{url}#timeline")
    page = selectors.timeline_page(account=account, limit=TIMELINE_PAGE, before=before)
    return render(request, "crm/_timeline_rows.html", {"account": account, "page": page})


# --- Activities -----------------------------------------------------------------------------


@login_required
@require_POST
def activity_log(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    form = ActivityForm(request.POST, account=account)
    if form.is_valid():
        try:
            activity = services.activity_log(account=account, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if request.htmx:  # type: ignore[attr-defined]
                # The fresh form replaces the old one; the new row goes on top of the timeline (oob).
                return render(
                    request, "crm/_activity_logged.html",
                    {"account": account, "activity_form": ActivityForm(account=account), "activity": activity},
                )
            messages.success(request, f"{activity.get_kind_display()} logged.")
            return redirect("crm:account_detail", pk=account.pk)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "crm/_activity_form.html", {"account": account, "activity_form": form})
    context = _account_context(request, account)
    context["activity_form"] = form
    return render(request, "crm/account_detail.html", context, status=400)


@login_required
@require_GET
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    activity = permissions.get_activity_for(request.user, pk)
    return render(request, "crm/activity_detail.html", {"activity": activity, "account": activity.account})


# --- Contacts -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_edit_account(request.user, account)
    form = ContactForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            contact = services.contact_create(account=account, by=request.user, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Contact {contact.full_name} added.")
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/contact_form.html", {"form": form, "account": account, "contact": None})


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = permissions.get_contact_for(request.user, pk)
    account = contact.account
    permissions.require_can_edit_account(request.user, account)
    form = ContactForm(_posted(request), instance=permissions.get_contact_for(request.user, pk))
    if request.method == "POST" and form.is_valid():
        try:
            flows.contact_update(contact=contact, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Contact {contact.full_name} saved.")
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/contact_form.html", {"form": form, "account": account, "contact": contact})


@login_required
@require_POST
def contact_left(request: HttpRequest, pk: int) -> HttpResponse:
    """One click for the common case: the person has left the customer's organisation."""
    contact = permissions.get_contact_for(request.user, pk)
    permissions.require_can_edit_account(request.user, contact.account)
    try:
        flows.contact_update(contact=contact, by=request.user, is_active=False, is_primary=False)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{contact.full_name} marked as having left the organisation.")
    return redirect("crm:account_detail", pk=contact.account_id)


# --- Account team ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def team_add(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_manage_team(request.user, account)
    form = TeamMemberForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            member = services.team_member_add(account=account, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{member.user.get_full_name() or member.user} joined the team.")
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/team_form.html", {"form": form, "account": account})


@login_required
@require_POST
def team_end(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(
        AccountTeamMember.objects.filter(account__in=Account.objects.visible_to(request.user)), pk=pk
    )
    back = reverse("crm:account_detail", args=[member.account_id])
    try:
        services.team_member_end(member=member, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except Conflict as exc:
        return _conflict(request, exc, back)
    else:
        messages.success(request, "Team membership ended; it stays in the team history.")
    return HttpResponseRedirect(back)


# --- Reassignment ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def account_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_reassign(request.user)
    form = ReassignForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            change = flows.account_reassign(account=account, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"{account.name} now belongs to {name_of(change.to_user)}; they have been emailed."
            )
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/account_reassign.html", {"form": form, "account": account})


@login_required
@require_http_methods(["GET", "POST"])
def book_reassign(request: HttpRequest) -> HttpResponse:
    """Succession: choose whose book and who takes it, see the preview, then confirm."""
    permissions.require_can_reassign(request.user)
    if request.method == "GET":
        form = BookReassignForm(initial={"from_user": _int_or_none(request.GET.get("from_user"))})
        return render(request, "crm/book_reassign.html", {"form": form})
    form = BookReassignForm(request.POST)
    confirm = request.POST.get("confirm") == "1"
    if form.is_valid():
        data = form.cleaned_data
        try:
            plan = flows.book_reassign(
                from_user=data["from_user"], to_user=data["to_user"], by=request.user,
                reason=data["reason"], note=data["note"], preview=not confirm,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if confirm:
                moved = ngettext(
                    "Moved %(count)d account from %(from)s to %(to)s",
                    "Moved %(count)d accounts from %(from)s to %(to)s",
                    len(plan.changes),
                ) % {"count": len(plan.changes), "from": name_of(data["from_user"]), "to": name_of(data["to_user"])}
                deals = ngettext(
                    "%(count)d open deal went with them.", "%(count)d open deals went with them.", plan.open_deal_count
                ) % {"count": plan.open_deal_count}
                messages.success(request, f"{moved}; {deals}")
                return redirect(f"{reverse('crm:account_list')}?owner={data['to_user'].pk}")
            return render(request, "crm/book_reassign_preview.html", {"form": form, "plan": plan, "data": data})
    return render(request, "crm/book_reassign.html", {"form": form})


# --- Deals ----------------------------------------------------------------------------------


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
    form = DealCreateForm(_posted(request), account=account, by=request.user)
    items = LineItemFormSet(_posted(request), prefix="items")
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
    form = DealForm(_posted(request), instance=permissions.get_deal_for(request.user, pk))
    items = LineItemFormSet(_posted(request), prefix="items", initial=_line_item_initial(deal))
    if request.method == "POST" and form.is_valid() and items.is_valid():
        try:
            services.deal_update(deal=deal, by=request.user, line_items=line_items_from(items), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, back)
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
        "can_sell": _allowed(permissions.require_can_sell_on, request.user, deal.account),
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
        return _conflict(request, exc, back)
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
        return _conflict(request, exc, back)
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
            return _conflict(request, exc, back)
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


# --- People ---------------------------------------------------------------------------------



@login_required
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    permissions.require_can_manage_users(request.user)
    people = (
        User.objects.annotate(account_count=Count("owned_accounts", distinct=True))
        .prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name")))
        .filter(Q(groups__isnull=False) | Q(account_count__gt=0))
        .distinct()
        .order_by("-is_active", "first_name", "username")
    )
    return render(request, "crm/user_list.html", {"people": people})


@login_required
@require_http_methods(["GET", "POST"])
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require_can_manage_users(request.user)
    person = get_object_or_404(User, pk=pk)
    owned = Account.objects.owned_by(person).count()
    form = DeactivateForm(_posted(request), user=person)
    if request.method == "POST" and form.is_valid():
        try:
            plan = flows.user_deactivate(
                user=person, by=request.user, successor=form.cleaned_data["successor"], note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, exc, reverse("crm:user_list"))
        else:
            moved = " " + ngettext(
                "%(count)d account went to %(to)s.", "%(count)d accounts went to %(to)s.", len(plan.changes)
            ) % {"count": len(plan.changes), "to": name_of(form.cleaned_data["successor"])} if plan else ""
            messages.success(request, f"{name_of(person)} is deactivated; their sessions and API tokens ended.{moved}")
            return redirect("crm:user_list")
    return render(request, "crm/user_deactivate.html", {"form": form, "person": person, "owned": owned})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    # Unsaved when missing: a GET must not write (the user-created receiver normally made it).
    user: Any = request.user
    instance = UserProfile.objects.filter(user=user).first() or UserProfile(user=user)
    form = ProfileForm(_posted(request), instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.profile_update(user=request.user, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            # The session keeps the zone pages are shown in: the next page is in the new one.
            core_time_zones.remember_zone(request, saved.time_zone)
            messages.success(request, "Profile saved.")
            return redirect("crm:profile")
    return render(request, "crm/profile.html", {"form": form})
