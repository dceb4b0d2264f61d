"""Tests: SQLite unless DATABASE_URL is set; tasks run in-process at commit time."""

from .base import *  # noqa: F403
from .base import STATIC_ROOT, STORAGES, env

DEBUG = False
SECRET_KEY = "test-only-key-not-secret-keepwarm-0123456789abcdef-0123456789"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# A fresh clone has no var/static/, and WhiteNoise warns about it for every test client.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Eager here means "runs when the on_commit callback fires", never before the commit.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
AXES_FAILURE_LIMIT = 5
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "1000/min"}}  # noqa: F405
_ = env
