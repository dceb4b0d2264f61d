"""/api/v1/search/: config.api_router includes this module by its dotted name (nothing imports
search)."""

from django.urls import path

from search.api import views

urlpatterns = [
    path("", views.SearchView.as_view(), name="search"),
]
