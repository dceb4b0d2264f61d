from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import devmail
from crm import customer_pages


def healthz(request: HttpRequest) -> JsonResponse:
    """For the load balancer and docker-compose health checks: the process answers."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("django.contrib.auth.urls")),
    path("api/v1/", include("config.api_router")),
    # The schema and its docs are for signed-in users (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]):
    # the schema answers an anonymous client 403 like the rest of the API, the docs send a
    # browser to the login page and back.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        login_required(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("dev/mail/", devmail.mail_list, name="dev-mail"),
    path("dev/mail/<str:name>", devmail.mail_detail, name="dev-mail-detail"),
    path("c/renew/<int:pk>/", customer_pages.link_renewal, name="customer_link_renewal"),
    path("", include("crm.urls")),
    path("", include("handover.urls")),
    path("", include("delivery.urls")),
    path("", include("touchpoints.urls")),
    path("", include("insights.urls")),
]

if settings.DEBUG:  # pragma: no cover
    pass
