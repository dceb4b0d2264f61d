"""crm's API routes; config.api_router registers them."""

from typing import Any

from django.urls import path

from crm.api import views

extra_urlpatterns: list[Any] = [
    path("auth/token/", views.TokenView.as_view(), name="auth-token"),
]


def register(router: Any) -> None:
    router.register("accounts", views.AccountViewSet, basename="account")
    router.register("contacts", views.ContactViewSet, basename="contact")
    router.register("deals", views.DealViewSet, basename="deal")
    router.register("activities", views.ActivityViewSet, basename="activity")
    router.register("reassignments", views.ReassignmentViewSet, basename="reassignment")
    router.register("users", views.UserViewSet, basename="user")
