"""The product's URLs plus the two reference views the pages are measured against.

Both references pay what every page pays (session, user, middleware) and nothing else:
A is the cheapest possible database-backed response, B the cheapest honest 50-row page.
They exist only in the benchmark settings.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path

from config.urls import urlpatterns as product_urlpatterns
from crm.models import Account


@login_required
def reference_pk(request: HttpRequest, pk: int) -> JsonResponse:
    """Reference A: one row by primary key, as JSON."""
    account = get_object_or_404(Account.objects.only("id", "name", "city", "lifecycle"), pk=pk)
    return JsonResponse({"id": account.pk, "name": account.name, "city": account.city, "lifecycle": account.lifecycle})


@login_required
def reference_table(request: HttpRequest) -> HttpResponse:
    """Reference B: the first 50 accounts by name with their owner, in a plain template."""
    accounts = Account.objects.select_related("owner").order_by("name", "id")[:50]
    return render(request, "bench/table.html", {"accounts": accounts})


urlpatterns = [
    path("bench/ref/pk/<int:pk>", reference_pk, name="bench-ref-pk"),
    path("bench/ref/table/", reference_table, name="bench-ref-table"),
    *product_urlpatterns,
]
