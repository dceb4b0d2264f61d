from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Customer relationships"

    def ready(self) -> None:
        from crm import receivers  # noqa: F401  (connects the login and session receivers)
