from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery and problems"

    def ready(self) -> None:
        from delivery import emails, receivers  # noqa: F401  (signal receivers; link and notice emails)
