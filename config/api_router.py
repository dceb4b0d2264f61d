"""Every app's API routes under /api/v1/, in one router (cookiecutter-django's api_router)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm.api import urls as crm_api
from delivery.api import urls as delivery_api
from handover.api import urls as handover_api
from touchpoints.api import urls as touchpoints_api

router = DefaultRouter()
crm_api.register(router)
handover_api.register(router)
delivery_api.register(router)
touchpoints_api.register(router)

app_name = "api"
urlpatterns = [
    *crm_api.extra_urlpatterns,
    *handover_api.extra_urlpatterns,
    *delivery_api.extra_urlpatterns,
    *touchpoints_api.extra_urlpatterns,
    # insights and search are wired by their dotted names: nothing imports them (import-linter).
    path("insights/", include("insights.api.urls")),
    path("search/", include("search.api.urls")),
    path("", include(router.urls)),
]
