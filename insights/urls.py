from django.urls import path

from insights import views

app_name = "insights"
urlpatterns = [
    path("insights/", views.index, name="index"),
    path("insights/performance/", views.performance, name="performance"),
    path("insights/people/<int:pk>/", views.person, name="person"),
    path("insights/reassignment/", views.reassignment, name="reassignment"),
    path("insights/risk/", views.risk, name="risk"),
    path("insights/delivery/", views.delivery, name="delivery"),
]
