"""The bell's API routes; config.api_router registers them."""

from typing import Any

from outbox.api import views


def register(router: Any) -> None:
    router.register("notifications", views.NotificationViewSet, basename="notification")
