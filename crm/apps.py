from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Customer relationships"

    def ready(self) -> None:
        # The page cache's version receivers; settings check; the ownership notice; login/session receivers.
        from crm import account_page_cache, checks, notices, receivers  # noqa: F401
