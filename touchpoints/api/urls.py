"""The touchpoints app's API routes; config.api_router registers them."""

from typing import Any

from touchpoints.api import views

extra_urlpatterns: list[Any] = []


def register(router: Any) -> None:
    router.register("touchpoints", views.TouchpointViewSet, basename="touchpoint")
    router.register("agendas", views.AgendaViewSet, basename="agenda")
