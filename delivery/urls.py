from django.urls import path

from delivery import customer_views
from delivery.views import portal, problems, projects, stages

app_name = "delivery"
urlpatterns = [
    # Staff pages
    path("deliveries/", projects.my_deliveries, name="my_deliveries"),
    path("deliveries/<int:pk>/", projects.project_detail, name="project_detail"),
    path("stages/<int:pk>/start/", stages.stage_start, name="stage_start"),
    path("stages/<int:pk>/complete/", stages.stage_complete, name="stage_complete"),
    path("stages/<int:pk>/edit/", stages.stage_edit, name="stage_edit"),
    path("stages/<int:pk>/request-signoff/", stages.stage_request_signoff, name="stage_request_signoff"),
    path("problems/", problems.problem_list, name="problem_list"),
    path("problems/export.csv", problems.problem_export, name="problem_export"),
    path("accounts/<int:pk>/problems/new/", problems.problem_create, name="problem_create"),
    path("problems/<int:pk>/", problems.problem_detail, name="problem_detail"),
    path("problems/<int:pk>/resolve/", problems.problem_resolve, name="problem_resolve"),
    path("problems/<int:pk>/close/", problems.problem_close, name="problem_close"),
    path("problems/<int:pk>/reopen/", problems.problem_reopen, name="problem_reopen"),
    path("accounts/<int:pk>/portal-link/", portal.portal_link_send, name="portal_link_send"),
    path("accounts/<int:pk>/portal-link/revoke/", portal.portal_link_revoke, name="portal_link_revoke"),
    # Customer pages (no login: a link in the session)
    path("c/signoff/open/<str:token>/", customer_views.signoff_open, name="signoff_open"),
    path("c/signoff/<int:pk>/", customer_views.signoff, name="signoff"),
    path("c/portal/open/<str:token>/", customer_views.portal_open, name="portal_open"),
    path("c/portal/<int:pk>/", customer_views.portal, name="portal"),
]
