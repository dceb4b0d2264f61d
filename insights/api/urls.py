"""/api/v1/insights/...: config.api_router includes this module by its dotted name (nothing
imports insights)."""

from django.urls import path

from insights.api import views

urlpatterns = [
    path("performance/", views.PerformanceView.as_view(), name="insights-performance"),
    path("risk/", views.RiskView.as_view(), name="insights-risk"),
    path("reassignment/", views.ReassignmentView.as_view(), name="insights-reassignment"),
    path("delivery/", views.DeliveryView.as_view(), name="insights-delivery"),
]
