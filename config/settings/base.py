"""Settings shared by every environment, read from the environment with django-environ.

Nothing here needs a server: with no variables set the product runs on SQLite, an embedded
Celery broker (kombu's filesystem transport) and emails written as files under var/mail/.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# SECRET_KEY has no default here: local.py and test.py provide a development key, production.py
# requires the variable.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",  # search: trigram and full-text lookups, indexes (only used on PostgreSQL)
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files for /api/docs/ (no CDN)
    "django_htmx",
    "axes",
    "core",
    "outbox",
    "crm",
    "saved_views",
    "customer_links",
    "handover",
    "delivery",
    "touchpoints",
    "flows",
    "insights",
    "search",  # the header search; beside insights, imported by none
    "demo",  # seed_demo and seed_scale; on top of every app
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After sessions and authentication: the zone is the signed-in user's, kept in the session.
    "config.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Axes last, as its docs require: it turns lockouts into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'keepwarm.sqlite3'}"),
}
# Persistent connections: a connection per request costs every page its set-up (docs/benchmarks.md).
# Celery's Django fixup closes the worker's
# connections after every task unless CELERY_DB_REUSE_MAX is set (below).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # No JIT: PostgreSQL compiles any query its planner costs above jit_above_cost, and for the
    # dashboards' per-account subqueries the compilation costs more than the query run
    # interpreted (docs/benchmarks.md). A web app's short queries never repay it.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=off")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Embedded broker: kombu's filesystem transport, a folder of message files shared by the
    # web process, the worker and beat. Needs no server, so `make run` works on a fresh machine.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "store_processed": False,
        # Broadcast (remote control) messages; kombu's default is ./control in the cwd.
        "control_folder": str(_broker_dir / "control"),
    }

CELERY_TIMEZONE = "UTC"
# Let a worker process reuse its database connection across tasks (Celery closes it every
# CELERY_DB_REUSE_MAX tasks instead of after each one): the outbox sends hundreds of small tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# The one place where periodic work is declared. Beat only wakes these dispatchers; what is due
# lives in the database, so a beat restart or a missed tick loses nothing.
CELERY_BEAT_SCHEDULE = {
    # The one dispatcher: every reminder, escalation (overdue handovers, sign-offs, missed
    # check-ups), digest and alert the product owes is a Notice row with a due time; each tick
    # runs the producers (handover deadlines, daily digests), then claims what is due and queues
    # its sends (outbox.notices). The task is outbox.tasks.dispatch_notices, registered under the
    # name it had in crm so that messages queued before the move still find it.
    "crm-dispatch-notices": {
        "task": "crm.tasks.dispatch_notices",
        "schedule": timedelta(minutes=1),
    },
    # Between those ticks, the outbox's sweep claims again the notices of a worker that died
    # mid-send (their lease, outbox.notices.LEASE, ran out), so they go within about a minute.
    # One index scan over the claimed rows, no producer: cheap enough every 15 seconds.
    "outbox-reclaim-notices": {
        "task": "outbox.tasks.reclaim_notices",
        "schedule": timedelta(seconds=15),
    },
    # Ends expired sessions (and their login rows) so the session table does not grow forever.
    "crm-clear-expired-sessions": {
        "task": "crm.tasks.clear_expired_sessions",
        "schedule": timedelta(hours=6),
    },
    # The managers' dashboards, default view, recomputed before anyone asks (insights.snapshots:
    # figures are reused for at most INSIGHTS_MAX_AGE_SECONDS, so a tick every minute keeps the
    # usual view warm and never older than about a minute).
    "insights-refresh-dashboards": {
        "task": "insights.tasks.refresh_dashboards",
        "schedule": timedelta(minutes=1),
    },
}

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out username or address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "crm:account_list"
LOGOUT_REDIRECT_URL = "login"

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
# An address is shared by everyone behind one office or VPN: it is paused only after many more
# failures than one username (crm/login_throttle.py holds each count to its own limit).
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# The username and the client address are counted separately, each against its own limit:
# rotating addresses does not help an attacker guessing one user's password, and one user's
# failures do not lock out the others behind the same address.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "crm.login_throttle.LoginThrottleHandler"
AXES_LOCKOUT_CALLABLE = "crm.login_throttle.lockout_response"
AXES_RESET_ON_SUCCESS = False
# An attempt refused during the pause does not extend it: the page's "paused until" and the
# Retry-After header stay true however often the user tries again.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client address is REMOTE_ADDR unless a deployment names its trusted proxy: a header the
# client can write (X-Forwarded-For) must not choose whose failures count.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's JSON, form and multipart parsers; the JSON one answers 400 to a body nested too deep.
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONBodyParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": "20/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Keepwarm API",
    "DESCRIPTION": "The post-sale handover CRM. Every resource and state change of the product.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes every staff resource: only signed-in users (session or token) read it.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name get stable component names (crm API).
    "ENUM_NAME_OVERRIDES": {
        "ContactRoleEnum": "crm.models.Contact.Role",
        "TeamRoleEnum": "crm.models.AccountTeamMember.Role",
        "AddableTeamRoleEnum": "crm.api.serializers.ADDABLE_TEAM_ROLES",
        "OwnershipReasonEnum": "crm.models.OwnershipChange.Reason",
        "ReassignReasonEnum": "crm.api.serializers.REASSIGN_REASONS",
        "DealStageEnum": "crm.models.Deal.Stage",
        # handover API
        "PromiseKindEnum": "handover.models.Promise.Kind",
        "PromiseStateEnum": "handover.models.Promise.State",
        "ReviewKindEnum": "handover.models.PromiseReview.Kind",
        "HandoverStateEnum": "handover.models.Handover.State",
        "PromiseSourceEnum": "handover.models.Promise.Source",
        # delivery API
        "ProjectStateEnum": "delivery.models.Project.State",
        "StageStateEnum": "delivery.models.Stage.State",
        "ProblemStateEnum": "delivery.models.Problem.State",
        "ProblemSourceEnum": "delivery.models.Problem.Source",
        # touchpoints API
        "TouchpointKindEnum": "touchpoints.models.Kind",
        "TouchpointStateEnum": "touchpoints.models.Touchpoint.State",
        "ProblemSeverityEnum": "delivery.models.Problem.Severity",
    },
}

# --- Email ----------------------------------------------------------------------------------
MAIL_DIR = VAR_DIR / "mail"
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(MAIL_DIR)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Keepwarm <keepwarm@localhost>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- i18n, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security headers (also see config.middleware) ------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

# No token in any log (config.redaction): every handler filters what it writes. runserver's access
# log (`django.server`) keeps Django's own handler and format, with the filter added.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "config.redaction.RedactTokensFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]},
        "django.server": {
            "level": "INFO", "class": "logging.StreamHandler", "formatter": "django.server",
            "filters": ["redact_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.request": {"filters": ["redact_tokens"]},
    },
}

# --- Product settings -----------------------------------------------------------------------
KEEPWARM = {
    "DEMO_PASSWORD": "keepwarm",
    # Delivery accepts (or rejects) a sales-approved handover within this many working days.
    "HANDOVER_ACCEPT_WORKING_DAYS": env.int("HANDOVER_ACCEPT_WORKING_DAYS", default=2),
    # Customer links: sign-off links expire after this many days, portal links after these.
    "SIGNOFF_LINK_DAYS": env.int("SIGNOFF_LINK_DAYS", default=14),
    "PORTAL_LINK_DAYS": env.int("PORTAL_LINK_DAYS", default=180),
    # A stage awaiting sign-off this many days gets one reminder to the signer.
    "SIGNOFF_REMINDER_DAYS": env.int("SIGNOFF_REMINDER_DAYS", default=5),
    # A touchpoint this many hours past due without an outcome is missed and escalated.
    "TOUCHPOINT_GRACE_HOURS": env.int("TOUCHPOINT_GRACE_HOURS", default=48),
    # Each user's digest of what is due goes at this local hour.
    "DIGEST_HOUR": env.int("DIGEST_HOUR", default=7),
    # Check-up survey links expire after this many days.
    "SURVEY_LINK_DAYS": env.int("SURVEY_LINK_DAYS", default=14),
    # The delivery plan picked when the delivery manager does not choose one (its name).
    "DEFAULT_PLAN_TEMPLATE": env.str("DEFAULT_PLAN_TEMPLATE", default="Software rollout"),
    # Dashboard figures are reused for at most this many seconds (0: always computed live); every
    # page shows their age. insights.snapshots caps it at 600.
    "INSIGHTS_MAX_AGE_SECONDS": env.int("INSIGHTS_MAX_AGE_SECONDS", default=120),
}
