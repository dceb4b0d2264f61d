from django.apps import AppConfig


class TouchpointsConfig(AppConfig):
    name = "touchpoints"
    verbose_name = "Check-ups"

    def ready(self) -> None:
        from touchpoints import emails, receivers  # noqa: F401  (signal receivers; notice builders and producers)
