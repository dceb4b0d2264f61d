"""The results page of the header search (`/search/?q=`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from search import forms, selectors


@login_required
@require_GET
def results(request: HttpRequest) -> HttpResponse:
    form, query, kind = forms.read(request.GET)
    found = None
    if query:
        per_kind = selectors.MORE_PER_KIND if kind else selectors.PER_KIND
        found = selectors.search(user=request.user, query=query, kind=kind, per_kind=per_kind)
    # A query that cannot be searched for is a message on the page, as a list's bad filter is.
    return render(request, "search/results.html", {"form": form, "found": found, "query": query, "kind": kind})
