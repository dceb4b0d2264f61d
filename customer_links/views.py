"""The customer-link page that belongs to no app: asking for a fresh link."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from customer_links import services as links
from customer_links.models import CustomerLink
from customer_links.pages import SESSION_KEY, customer_page, problem_page
from outbox import notices


@customer_page
@require_POST
def link_renewal(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer asks for a fresh link. Only a link this browser holds can be renewed, once."""
    if pk not in request.session.get(SESSION_KEY, []):
        return problem_page(request, links.LinkCheck(None, links.INVALID))
    link = CustomerLink.objects.select_related("account__owner", "contact").get(pk=pk)
    # The mark and the owed note commit together: a failure leaves the request askable again.
    with transaction.atomic():
        if links.link_request_renewal(link):
            notices.notice_schedule(
                kind="crm.link_renewal", key=f"link-renewal:{link.pk}", target=link.target, data={"link": link.pk},
                send_now=True,
            )
    return render(request, "customer/link_renewal_sent.html", {"link": link, "contact_person": link.account.owner})
