import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()

# gunicorn runs no system checks: a bad product setting stops the worker here, not at the first link.
from crm.checks import refuse_bad_settings  # noqa: E402  (needs the app registry loaded above)

refuse_bad_settings()
