"""The accounts list, creating and editing an account, and the account page with its timeline
(and the sections higher apps add to it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core.csv_export import export_chunk, filename, in_chunks, keyset_chunks, streamed_csv
from core.http import allowed, posted
from core.names import people_names
from core.pagination import CappedPaginator
from crm import duplicates, permissions, roles, selectors, services
from crm.forms import AccountCreateForm, AccountFilterForm, AccountForm, ActivityForm, add_service_errors
from crm.models import Account, is_single_threaded
from crm.signals import account_page_sections
from crm.views.shared import int_or_none

ACCOUNTS_PER_PAGE = 50
TIMELINE_PAGE = selectors.TIMELINE_PAGE


def account_filters(request: HttpRequest) -> tuple[AccountFilterForm, dict[str, Any]]:
    """The accounts list's filters from the query string, for the page and its CSV alike."""
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
            "archived": bool(data.get("archived")),
        }
    return form, filters


@login_required
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    form, filters = account_filters(request)
    accounts = selectors.account_list(user=request.user, **filters)
    page = CappedPaginator(accounts, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "crm/account_list.html",
        {"form": form, "page": page, "filtered": any(filters.values()) if filters else False},
    )


ACCOUNT_CSV_HEADER = [
    "Account", "Stage", "Owner", "Single-threaded", "Active contacts", "Vendor people", "Industry", "Website",
    "City", "Country", "Archived", "Created",
]


ACCOUNT_CSV_FIELDS = (
    "pk", "name", "lifecycle", "owner_id", "active_contact_count", "vendor_people_count", "industry", "website",
    "city", "country", "archived_at", "created_at",
)


@login_required
@require_GET
def account_export(request: HttpRequest) -> HttpResponseBase:
    """The accounts list's rows as CSV: the same filters (invalid ones ignored, as the page
    does), the same selector and so the same thread counts, every matching row rather than a
    page of them, streamed. Read as tuples in keyset chunks along the list's own index (no sort
    of the whole list, each chunk's two counting subqueries run for its rows only); owners'
    names from one read of the people (few) rather than a join on every row. Counting a chunk
    by `account_id__in=ids` instead measured slower at 100,000 rows: twice the Python time in
    the 2,000 parameters of each query, and a scan of the whole team table per chunk."""
    _form, filters = account_filters(request)
    accounts = selectors.account_list(user=request.user, **filters)
    lifecycles = dict(Account.Lifecycle.choices)

    if filters.get("search"):
        # A search's matches come through the trigram indexes, sorted by an expression (the
        # selector's order): one streamed query, in the page's order.
        chunks = in_chunks(accounts.values_list(*ACCOUNT_CSV_FIELDS).iterator(chunk_size=export_chunk()))
    else:
        chunks = keyset_chunks(accounts, ACCOUNT_CSV_FIELDS, order=selectors.ACCOUNT_LIST_ORDER)

    def rows() -> Iterator[list[Any]]:
        owners = people_names()
        for chunk in chunks:
            for (_pk, name, lifecycle, owner_id, active, vendor, industry, website, city, country, archived_at,
                 created_at) in chunk:
                yield [
                    name, lifecycles.get(lifecycle, lifecycle), owners.get(owner_id, ""),
                    is_single_threaded(active, vendor), active, vendor, industry, website, city, country,
                    archived_at is not None, created_at,
                ]

    return streamed_csv(filename("accounts"), ACCOUNT_CSV_HEADER, rows())


@login_required
@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    permissions.require_can_create_account(request.user)
    form = AccountCreateForm(posted(request))
    found = None
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        # A likely duplicate is shown first, nothing saved; "Create anyway" posts the same form
        # with confirm_duplicate (the candidates are searched again: one may have appeared).
        found = duplicates.account_duplicates(user=request.user, name=data["name"], website=data.get("website", ""))
        if not found or request.POST.get("confirm_duplicate") == "1":
            try:
                account = services.account_create(by=request.user, **data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Account {account.name} created.")
                return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/account_form.html", {"form": form, "account": None, "duplicates": found})


@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = permissions.get_account_for(request.user, pk)
    permissions.require_can_edit_account(request.user, account)
    if account.merged_into_id is not None:
        return redirect("crm:account_detail", pk=account.pk)  # which leads to the survivor
    form = AccountForm(posted(request), instance=Account.objects.get(pk=account.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.account_update(account=account, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Account saved.")
            return redirect("crm:account_detail", pk=account.pk)
    return render(request, "crm/account_form.html", {"form": form, "account": account})


def account_context(request: HttpRequest, account: Account, *, before: int | None = None) -> dict[str, Any]:
    page = selectors.account_page(account=account, timeline_limit=TIMELINE_PAGE, timeline_before=before)
    user = request.user
    return {
        "account": account,
        "page": page,
        "before": before,
        "activity_form": ActivityForm(account=account, deals=page.deals),
        "can_edit": allowed(permissions.require_can_edit_account, user, account),
        "can_manage_team": allowed(permissions.require_can_manage_team, user, account),
        "can_sell": allowed(permissions.require_can_sell_on, user, account),
        "can_reassign": roles.can_reassign(user),
        "can_merge": allowed(permissions.require_can_merge, user),
        # Sections added by higher apps (delivery's projects and problems) through a signal.
        "sections": [
            section
            for _receiver, section in account_page_sections.send(
                sender=Account, account=account, user=user, contacts=page.contacts
            )
            if section
        ],
    }


def _account_or_survivor(request: HttpRequest, pk: int) -> Account:
    """The account, or for a merged one (a tombstone) the account it was merged into, with a
    message saying so; 404 when the user may see neither."""
    try:
        account: Account | None = permissions.get_account_for(request.user, pk)
    except Http404:
        account = None
    if account is not None and account.merged_into_id is None:
        return account
    survivor = permissions.survivor_of_tombstone(request.user, pk)
    if survivor is None:
        if account is None:
            raise Http404("Not found.")
        return account
    messages.info(request, f"Account #{pk} was merged into {survivor.name}: this is its page now.")
    return survivor


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account_or_survivor(request, pk)
    if account.pk != pk:
        return redirect("crm:account_detail", pk=account.pk)
    context = account_context(request, account, before=int_or_none(request.GET.get("before")))
    return render(request, "crm/account_detail.html", context)


@login_required
@require_GET
def account_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """Older timeline rows for the "older" button (htmx), or the account page without htmx."""
    account = permissions.get_account_for(request.user, pk)
    before = int_or_none(request.GET.get("before"))
    if not request.htmx:  # type: ignore[attr-defined]
        url = reverse("crm:account_detail", args=[account.pk])
        return HttpResponseRedirect(f"{url}?before={before}#timeline" if before else f"{url}#timeline")
    page = selectors.timeline_page(account=account, limit=TIMELINE_PAGE, before=before)
    return render(request, "crm/_timeline_rows.html", {"account": account, "page": page})
