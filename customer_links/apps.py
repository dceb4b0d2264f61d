from django.apps import AppConfig


class CustomerLinksConfig(AppConfig):
    name = "customer_links"
    verbose_name = "Customer links"

    def ready(self) -> None:
        from customer_links import emails, receivers  # noqa: F401  (the renewal notice builder; contact receivers)
