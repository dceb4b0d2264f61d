from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Customer relationships"

    def ready(self) -> None:
        from crm import checks, notices, receivers  # noqa: F401  (settings check; the ownership notice; login/session receivers)
