from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Customer relationships"

    def ready(self) -> None:
        # The page cache's version receivers; settings check; login/session receivers; notice builders.
        from crm import account_page_cache, checks, emails, receivers  # noqa: F401
