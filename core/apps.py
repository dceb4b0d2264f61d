from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares and nothing product-specific: the conflict error and its HTTP
    answers, model validation, names, text rules, mail, time zones, the API's base classes."""

    name = "core"
    verbose_name = "Shared foundations"
