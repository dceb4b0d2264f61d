"""The handover app's API routes; config.api_router registers them."""

from typing import Any

from handover.api import views

extra_urlpatterns: list[Any] = []


def register(router: Any) -> None:
    router.register("promises", views.PromiseViewSet, basename="promise")
    router.register("handovers", views.HandoverViewSet, basename="handover")
