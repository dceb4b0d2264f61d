from django.apps import AppConfig


class HandoverConfig(AppConfig):
    name = "handover"
    verbose_name = "Promises and handovers"

    def ready(self) -> None:
        from handover import notices  # noqa: F401  (the escalation notice)
