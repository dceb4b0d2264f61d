"""Development: what `make run` uses. Debug on, a development key, emails as files."""

from .base import *  # noqa: F403
from .base import STORAGES, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me-keepwarm-0123456789abcdef")
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

# `make run PORT=8001` serves there, and links in emails follow. honcho gives every process its
# own $PORT (web's first), so the Makefile hands the web server's port to all three processes as
# KEEPWARM_PORT: a worker building an email needs it as much as the web server.
PORT = env.int("KEEPWARM_PORT", default=env.int("PORT", default=8000))
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{PORT}")
