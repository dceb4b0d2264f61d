"""Refuses, at start-up, product settings that would only fail later: a link lifetime of 0 is
accepted by the environment parser and then makes every link issue break (the database refuses a
link that expires when it is created); a digest hour of 25 never comes.

A Django system check (Error level), so every manage.py command and runserver stop on it;
`refuse_bad_settings` runs the same check where Django runs none: gunicorn's WSGI application
and the Celery worker.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

TAG = "keepwarm_settings"

# The environment variable (in settings.KEEPWARM), its meaning and its allowed range. The upper
# bounds keep the dates computed from them (now + lifetime) far from the calendar's end.
# INSIGHTS_MAX_AGE_SECONDS is not here: insights.snapshots clamps it to 0-600, as documented.
PRODUCT_RANGES: dict[str, tuple[str, int, int]] = {
    "SIGNOFF_LINK_DAYS": ("days a sign-off link works", 1, 3650),
    "PORTAL_LINK_DAYS": ("days a portal link works", 1, 3650),
    "SURVEY_LINK_DAYS": ("days a survey link works", 1, 3650),
    "SIGNOFF_REMINDER_DAYS": ("days before the sign-off reminder", 1, 365),
    "HANDOVER_ACCEPT_WORKING_DAYS": ("working days to accept a handover", 1, 60),
    "TOUCHPOINT_GRACE_HOURS": ("hours past due before a check-up is missed", 1, 8760),
    "DIGEST_HOUR": ("local hour of the daily digest", 0, 23),
}


def _range_error(name: str, value: Any, meaning: str, low: int, high: int) -> checks.Error | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return checks.Error(
            f"{name} is {value!r}; it must be a whole number from {low} to {high} ({meaning}).",
            hint=f"Set the environment variable {name} to a value from {low} to {high}, or unset it for the default.",
            id="keepwarm.E001",
        )
    return None


def _whole_number_error(name: str, value: Any, *, minimum: int, must: str, hint: str, id: str) -> list[checks.Error]:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return [checks.Error(f"{name} is {value!r}; it must be {must}.", hint=hint, id=id)]
    return []


@checks.register(TAG)
def check_product_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    product = getattr(settings, "KEEPWARM", {})
    errors: list[checks.CheckMessage] = [
        error
        for name, (meaning, low, high) in PRODUCT_RANGES.items()
        if name in product and (error := _range_error(name, product[name], meaning, low, high)) is not None
    ]
    plan = product.get("DEFAULT_PLAN_TEMPLATE", "x")
    if not isinstance(plan, str) or not plan.strip():
        errors.append(checks.Error(
            "DEFAULT_PLAN_TEMPLATE is empty; it must name a delivery plan.",
            hint="Set DEFAULT_PLAN_TEMPLATE to a plan's name such as \"Software rollout\".", id="keepwarm.E002",
        ))
    limit = getattr(settings, "AXES_FAILURE_LIMIT", 5)
    errors += _whole_number_error(
        "AXES_FAILURE_LIMIT", limit, minimum=1, must="at least 1 (failed logins before the cool-off)",
        hint="Set AXES_FAILURE_LIMIT to a whole number of 1 or more.", id="keepwarm.E003",
    )
    cooloff = getattr(settings, "AXES_COOLOFF_TIME", None)
    if cooloff is not None and hasattr(cooloff, "total_seconds") and cooloff.total_seconds() <= 0:
        errors.append(checks.Error(
            "AXES_COOLOFF_MINUTES must be at least 1 (a cool-off of 0 minutes throttles nothing).",
            hint="Set AXES_COOLOFF_MINUTES to a whole number of 1 or more.", id="keepwarm.E004",
        ))
    errors += _whole_number_error(
        "CELERY_DB_REUSE_MAX", getattr(settings, "CELERY_DB_REUSE_MAX", 100), minimum=1,
        must="at least 1 (tasks per database connection)",
        hint="Set CELERY_DB_REUSE_MAX to a whole number of 1 or more.", id="keepwarm.E005",
    )
    age = settings.DATABASES.get("default", {}).get("CONN_MAX_AGE", 0)
    if age is not None:  # None: connections are kept for ever, as Django allows
        errors += _whole_number_error(
            "CONN_MAX_AGE", age, minimum=0, must="0 or more seconds",
            hint="Set CONN_MAX_AGE to 0 (close after each request) or more.", id="keepwarm.E006",
        )
    return errors


def refuse_bad_settings() -> None:
    """Raises ImproperlyConfigured listing every bad product setting (for processes that do not
    run Django's system checks)."""
    errors = check_product_settings()
    if errors:
        raise ImproperlyConfigured("Keepwarm refuses to start:\n" + "\n".join(f"- {e.msg}" for e in errors))
