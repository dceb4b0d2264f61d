import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("keepwarm")
# All Celery settings live in Django settings with a CELERY_ prefix (beat schedule included).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_bad_settings(**kwargs: object) -> None:
    """A worker (and beat) runs no system checks either: it refuses bad product settings before its first task."""
    from crm.checks import refuse_bad_settings

    refuse_bad_settings()
