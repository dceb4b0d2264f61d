from django.apps import AppConfig


class SavedViewsConfig(AppConfig):
    name = "saved_views"
    verbose_name = "Saved views"
