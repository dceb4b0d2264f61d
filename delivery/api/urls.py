"""The delivery app's API routes; config.api_router registers them."""

from typing import Any

from delivery.api import views

extra_urlpatterns: list[Any] = []


def register(router: Any) -> None:
    router.register("plan-templates", views.PlanTemplateViewSet, basename="plan-template")
    router.register("projects", views.ProjectViewSet, basename="project")
    router.register("stages", views.StageViewSet, basename="stage")
    router.register("problems", views.ProblemViewSet, basename="problem")
    router.register("portal-links", views.PortalLinkViewSet, basename="portal-link")
