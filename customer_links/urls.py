from django.urls import path

from customer_links import views

# No namespace: every app's customer pages link to the renewal page by this one name.
urlpatterns = [
    path("c/renew/<int:pk>/", views.link_renewal, name="customer_link_renewal"),
]
