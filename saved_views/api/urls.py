"""saved_views' API routes; config.api_router registers them."""

from typing import Any

from saved_views.api import views

extra_urlpatterns: list[Any] = []


def register(router: Any) -> None:
    router.register("saved-views", views.SavedViewViewSet, basename="saved-view")
