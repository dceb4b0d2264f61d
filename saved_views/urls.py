from django.urls import path

from saved_views import views

app_name = "saved_views"
urlpatterns = [
    path("saved-views/new/", views.saved_view_create, name="create"),
    path("saved-views/<int:pk>/rename/", views.saved_view_rename, name="rename"),
    path("saved-views/<int:pk>/share/", views.saved_view_share, name="share"),
    path("saved-views/<int:pk>/delete/", views.saved_view_delete, name="delete"),
]
