"""The benchmark (`make bench`): production-like, served over plain HTTP on 127.0.0.1.

What production has: DEBUG off, persistent database connections, whitenoise with the manifest
storage, the same middleware. What it drops: the HTTPS redirect and secure-only cookies (wrk talks
plain HTTP to 127.0.0.1). The URLconf adds the two reference views the pages are compared with.
"""

from .base import *  # noqa: F403
from .base import BASE_DIR, CACHES, DATABASES, LOGGING, TEMPLATES, env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="bench-only-key-not-secret-keepwarm-0123456789abcdef-0123456789")
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "bench.urls"
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# Persistent connections for the life of the worker (production keeps them 60 s; the benchmark
# must not measure reconnects either way).
DATABASES["default"]["CONN_MAX_AGE"] = None

TEMPLATES = [{**TEMPLATES[0], "DIRS": [BASE_DIR / "templates", BASE_DIR / "bench" / "templates"]}]
# A log line per request would be part of what is measured; warnings still show.
LOGGING = {**LOGGING, "root": {"handlers": ["console"], "level": "WARNING"}}

# The two databases (100k and 10k accounts) are served at once and may share one Redis: each
# keeps its own cache entries (the dashboards' snapshots).
CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": str(DATABASES["default"]["NAME"])}}
