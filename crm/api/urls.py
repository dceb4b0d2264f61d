"""crm's API routes; config.api_router registers them."""

from typing import Any

extra_urlpatterns: list[Any] = []


def register(router: Any) -> None:
    pass
