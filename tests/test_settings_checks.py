"""Product settings that would only break later (a link lifetime of 0 makes every link issue
fail) are refused at start-up, by a system check and where no check runs (gunicorn, Celery)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from crm.checks import PRODUCT_RANGES, check_product_settings, refuse_bad_settings

ROOT = Path(__file__).resolve().parent.parent


def with_product(**values: object) -> dict[str, object]:
    return {**settings.KEEPWARM, **values}


def test_the_default_settings_pass_the_check():
    assert check_product_settings() == []


@pytest.mark.parametrize("name", sorted(PRODUCT_RANGES))
@pytest.mark.parametrize("offset", ["below", "above"])
def test_a_product_setting_out_of_its_range_is_refused_naming_it(name, offset, settings):
    _meaning, low, high = PRODUCT_RANGES[name]
    settings.KEEPWARM = with_product(**{name: low - 1 if offset == "below" else high + 1})

    [error] = check_product_settings()

    assert error.id == "keepwarm.E001"
    assert name in error.msg and f"from {low} to {high}" in error.msg


@pytest.mark.parametrize("name", ["SIGNOFF_LINK_DAYS", "PORTAL_LINK_DAYS", "SURVEY_LINK_DAYS", "SIGNOFF_REMINDER_DAYS"])
def test_a_link_lifetime_of_zero_stops_every_manage_py_command(name, settings):
    settings.KEEPWARM = with_product(**{name: 0})

    with pytest.raises(SystemCheckError, match=name):
        call_command("check")
    with pytest.raises(ImproperlyConfigured, match=name):
        refuse_bad_settings()


def test_an_empty_default_plan_and_a_zero_login_limit_are_refused(settings):
    settings.KEEPWARM = with_product(DEFAULT_PLAN_TEMPLATE=" ")
    settings.AXES_FAILURE_LIMIT = 0

    assert {e.id for e in check_product_settings()} == {"keepwarm.E002", "keepwarm.E003"}


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_manage_py_refuses_to_start_with_a_zero_portal_link_lifetime():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PORTAL_LINK_DAYS": "0"},
    )
    assert result.returncode != 0
    assert "PORTAL_LINK_DAYS is 0" in result.stderr


def test_the_wsgi_application_refuses_to_load_with_a_digest_hour_of_24():
    result = _python("import config.wsgi", DIGEST_HOUR="24")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DIGEST_HOUR is 24" in result.stderr
    assert _python("import config.wsgi").returncode == 0
