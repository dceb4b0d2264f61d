"""Production: every secret from the environment, HTTPS only, strict headers."""

from .base import *  # noqa: F403
from .base import STATIC_ROOT, env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")  # required: no default in production
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The image collects into var/static; the smoke run (scripts/smoke.sh) into a temp dir.
STATIC_ROOT = env.path("STATIC_ROOT", default=STATIC_ROOT)
