"""The contacts list and the deals list, and their CSV exports: the same filters (one selector
per list) in the page and in the file, only what the user may see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.csv_export import amount_cells, filename, streamed_csv
from core.names import display_name
from core.pagination import CappedPaginator
from crm import selectors
from crm.forms import ContactFilterForm, DealFilterForm
from crm.models import Contact, Deal

ROWS_PER_PAGE = 50
# Rows fetched per round trip by an export: memory stays flat whatever the row count.
EXPORT_CHUNK = 2000


def _filters(form: forms.Form) -> dict[str, Any]:
    """The valid fields' filters; invalid ones are reported on the page and ignored."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return form.filters()  # type: ignore[attr-defined]


def _page_context(
    request: HttpRequest, form: forms.Form, rows: QuerySet[Any], filters: dict[str, Any], sort: str, default: str,
) -> dict[str, Any]:
    page = CappedPaginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return {
        "form": form,
        "page": page,
        "sort": sort,
        "default_sort": default,
        "filtered": any(value not in (None, "", False, []) for value in filters.values()),
    }


def _sort(request: HttpRequest, sorts: dict[str, tuple[str, ...]], default: str) -> str:
    return selectors.sort_key(request.GET.get("sort"), sorts, default)


# --- Contacts -------------------------------------------------------------------------------


def _contacts(request: HttpRequest) -> tuple[ContactFilterForm, dict[str, Any], str, QuerySet[Contact]]:
    form = ContactFilterForm(request.GET or None)
    filters = _filters(form)
    sort = _sort(request, selectors.CONTACT_SORTS, selectors.CONTACT_DEFAULT_SORT)
    return form, filters, sort, selectors.contact_list(user=request.user, sort=sort, **filters)


@login_required
@require_GET
def contact_list(request: HttpRequest) -> HttpResponse:
    form, filters, sort, contacts = _contacts(request)
    context = _page_context(request, form, contacts, filters, sort, selectors.CONTACT_DEFAULT_SORT)
    return render(request, "crm/contact_list.html", context)


CONTACT_COLUMNS = [
    "Name", "First name", "Last name", "Account", "Account owner", "Job title", "Role", "Email", "Phone",
    "Still at the organisation", "Left on", "Primary", "Do not contact", "Created",
]


def _contact_rows(contacts: QuerySet[Contact]) -> Iterator[list[Any]]:
    roles = dict(Contact.Role.choices)
    for c in contacts.iterator(chunk_size=EXPORT_CHUNK):
        yield [
            c.full_name, c.first_name, c.last_name, c.account.name, display_name(c.account.owner), c.title,
            roles.get(c.role, c.role), c.email, c.phone, c.is_active, c.left_at, c.is_primary, c.do_not_contact,
            c.created_at,
        ]


@login_required
@require_GET
def contact_export(request: HttpRequest) -> StreamingHttpResponse:
    *_, contacts = _contacts(request)
    return streamed_csv(filename("contacts"), CONTACT_COLUMNS, _contact_rows(contacts))


# --- Deals ----------------------------------------------------------------------------------


def _deals(request: HttpRequest) -> tuple[DealFilterForm, dict[str, Any], str, QuerySet[Deal]]:
    form = DealFilterForm(request.GET or None)
    filters = _filters(form)
    sort = _sort(request, selectors.DEAL_SORTS, selectors.DEAL_DEFAULT_SORT)
    return form, filters, sort, selectors.deal_list(user=request.user, sort=sort, **filters)


@login_required
@require_GET
def deal_list(request: HttpRequest) -> HttpResponse:
    form, filters, sort, deals = _deals(request)
    context = _page_context(request, form, deals, filters, sort, selectors.DEAL_DEFAULT_SORT)
    return render(request, "crm/deal_list.html", context)


DEAL_COLUMNS = [
    "Deal", "Account", "Stage", "Amount", "Currency", "Expected close", "Owner", "Closed", "Created", "Updated",
]


def _deal_rows(deals: QuerySet[Deal]) -> Iterator[list[Any]]:
    stages = dict(Deal.Stage.choices)
    for d in deals.iterator(chunk_size=EXPORT_CHUNK):
        yield [
            d.name, d.account.name, stages.get(d.stage, d.stage), *amount_cells(d.value, d.currency),
            d.expected_close_date, display_name(d.owner), d.closed_at, d.created_at, d.updated_at,
        ]


@login_required
@require_GET
def deal_export(request: HttpRequest) -> StreamingHttpResponse:
    *_, deals = _deals(request)
    return streamed_csv(filename("deals"), DEAL_COLUMNS, _deal_rows(deals))
