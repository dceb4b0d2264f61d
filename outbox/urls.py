from django.urls import path

from outbox import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.notification_list, name="list"),
    path("notifications/bell/", views.bell, name="bell"),
    path("notifications/<int:pk>/open/", views.notification_open, name="open"),
    path("notifications/read-all/", views.notifications_read_all, name="read_all"),
    path("notifications/email/", views.email_choices, name="email_choices"),
]
