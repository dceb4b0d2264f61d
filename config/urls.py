from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import devmail


def healthz(request: HttpRequest) -> JsonResponse:
    """For the load balancer and docker-compose health checks: the process answers."""
    return JsonResponse({"status": "ok"})


# "Forgot password?": Django's reset views with our pages. The link in the email is built on
# SITE_URL, never on the request's Host header (a forged Host must not choose where it points),
# and the confirm view moves the token to the session before the password form is shown.
RESET_CONTEXT = {"timeout_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)}


class PasswordResetView(auth_views.PasswordResetView):
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    extra_context = RESET_CONTEXT

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        self.extra_email_context = {**RESET_CONTEXT, "site_url": settings.SITE_URL}
        return super().form_valid(form)


password_reset_urls = [
    path("password_reset/", PasswordResetView.as_view(), name="password_reset"),
    path(
        "password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(extra_context=RESET_CONTEXT),
        name="password_reset_done",
    ),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    *password_reset_urls,
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
    path("", include("customer_links.urls")),
    path("", include("crm.urls")),
    path("", include("handover.urls")),
    path("", include("delivery.urls")),
    path("", include("touchpoints.urls")),
    path("", include("insights.urls")),
    # search is wired by its dotted name too: nothing imports it.
    path("", include("search.urls")),
]

if settings.DEBUG:  # pragma: no cover
    pass
