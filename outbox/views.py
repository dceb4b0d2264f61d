"""The bell's pages: the header's panel of the latest notifications (htmx, loaded when the bell
is opened), the page of past ones, opening one (marks it read, then its page), marking all
read, and the email choices. Each user sees and writes only their own."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.http import next_url, posted
from core.pagination import CappedPaginator
from outbox import permissions, selectors, services
from outbox.forms import EmailChoicesForm
from outbox.topics import BY_KEY

PAGE_SIZE = 25


@login_required
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    count = selectors.unread_count(request.user)
    return render(request, "outbox/_bell_panel.html", {
        "latest": selectors.latest(request.user), "unread": count, "unread_label": selectors.unread_label(count),
    })


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    unread = request.GET.get("show") == "unread"
    paginator = CappedPaginator(selectors.notifications_of(request.user, unread=unread), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "outbox/notification_list.html", {"page": page, "unread": unread})


def _own_path(link: str) -> bool:
    """Only a path on this site: a stored link never sends anyone elsewhere."""
    return bool(link) and url_has_allowed_host_and_scheme(link, allowed_hosts=set()) and link.startswith("/")


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    notification = permissions.get_notification_for(request.user, pk)
    services.notification_read(notification=notification, by=request.user)
    return HttpResponseRedirect(notification.link if _own_path(notification.link) else reverse("notifications:list"))


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    marked = services.notifications_read_all(by=request.user)
    if marked:
        messages.success(request, "All notifications are marked as read.")
    return HttpResponseRedirect(next_url(request, reverse("notifications:list")))


@login_required
@require_http_methods(["GET", "POST"])
def email_choices(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = EmailChoicesForm(posted(request), choices=selectors.email_choices(user))
    if request.method == "POST" and form.is_valid():
        services.email_choices_set(user=user, by=user, choices=dict(form.cleaned_data))
        messages.success(request, "Email choices saved.")
        return redirect("notifications:email_choices")
    return render(request, "outbox/email_choices.html", {"form": form, "topics": BY_KEY})
