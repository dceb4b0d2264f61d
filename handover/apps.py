from django.apps import AppConfig


class HandoverConfig(AppConfig):
    name = "handover"
    verbose_name = "Promises and handovers"

    def ready(self) -> None:
        from handover import notices, receivers  # noqa: F401  (crm's signals; the escalation notice)
