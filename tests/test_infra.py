"""The production stack as files (docker-compose.yml, Dockerfile, Procfile) and the deploy-time
promises (reliability.md 28): the deploy check passes, pages carry the security headers, and
errors show a generic page.

No Docker engine runs here, so the compose file is checked as data: every command must name a
module that really imports, and every long-running service must have a health check.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

BASE_DIR = Path(settings.BASE_DIR)
APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def _argv(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def _celery_app_module(argv: list[str]) -> str:
    """The module after `-A` / `--app` in a celery command line."""
    for flag in ("-A", "--app"):
        if flag in argv:
            return argv[argv.index(flag) + 1]
    raise AssertionError(f"celery command without -A: {argv}")


# --- docker-compose.yml ---------------------------------------------------------------------


def test_the_stack_has_web_worker_beat_postgres_redis_and_a_mail_catcher(compose):
    services = compose["services"]
    for name in (*APP_SERVICES, "postgres", "redis", "mailpit"):
        assert name in services, f"docker-compose.yml has no {name} service"
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_every_long_running_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if service.get("restart") == "no":  # one-shot steps (migrate) finish instead
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no health check"


def test_the_app_services_are_built_from_the_dockerfile(compose):
    assert (BASE_DIR / "Dockerfile").is_file()
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "USER " in dockerfile, "the image must not run as root"
    assert "collectstatic" in dockerfile
    for name in (*APP_SERVICES, "migrate"):
        build = compose["services"][name]["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        assert (BASE_DIR / context / "Dockerfile").is_file(), f"{name} builds from {context!r}, which has no Dockerfile"


def test_the_app_services_use_production_settings_that_exist(compose):
    for name in (*APP_SERVICES, "migrate"):
        env = compose["services"][name]["environment"]
        module = env["DJANGO_SETTINGS_MODULE"]
        assert module == "config.settings.production"
        assert importlib.util.find_spec(module) is not None
        assert env["EMAIL_URL"] == "smtp://mailpit:1025"
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379")


def test_web_runs_gunicorn_on_the_real_wsgi_application(compose):
    argv = _argv(compose["services"]["web"])
    assert argv[0] == "gunicorn"
    target = next(arg for arg in argv[1:] if ":" in arg and not arg.startswith("-") and "." in arg)
    module_name, attribute = target.split(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))


def test_worker_and_beat_name_the_real_celery_app(compose):
    from celery import Celery

    for name, role in (("worker", "worker"), ("beat", "beat")):
        argv = _argv(compose["services"][name])
        assert argv[0] == "celery" and role in argv, f"{name}: {argv}"
        module = importlib.import_module(_celery_app_module(argv))
        assert isinstance(module.celery_app, Celery)


def test_exactly_one_beat_runs(compose):
    beats = [name for name, service in compose["services"].items() if "command" in service and "beat" in _argv(service)]
    assert beats == ["beat"]
    assert compose["services"]["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_migrations_run_once_before_the_app_starts(compose):
    services = compose["services"]
    assert _argv(services["migrate"])[-2:] == ["migrate", "--noinput"]
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_the_procfile_runs_web_one_worker_and_one_beat():
    lines = [
        line.split(":", 1)
        for line in (BASE_DIR / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    processes = {name.strip(): shlex.split(command) for name, command in lines}
    assert set(processes) == {"web", "worker", "beat"}
    # honcho sets web's $PORT from `make run PORT=...`; 8000 without it.
    assert "127.0.0.1:${PORT:-8000}" in processes["web"]
    for name in ("worker", "beat"):
        argv = processes[name]
        assert argv[0] == "celery" and name in argv
        importlib.import_module(_celery_app_module(argv))


# --- Production settings ----------------------------------------------------------------------


def _production_env() -> dict[str, str]:
    # Not the test process's own settings, nor what browser tests set for themselves.
    dropped = {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="keepwarm.example",
    )
    return env


def test_the_deploy_check_passes_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=_production_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = _production_env()
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


SECURITY_SETTINGS = [
    "DEBUG", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER",
]


@pytest.fixture(scope="module")
def production_security() -> dict[str, Any]:
    """The security settings production.py really produces, read in a separate process."""
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {SECURITY_SETTINGS!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=_production_env(), capture_output=True, text=True,
        timeout=120, check=True,
    )
    values = json.loads(result.stdout.strip().splitlines()[-1])
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def test_production_settings_turn_on_https_only_cookies_and_hsts(production_security):
    assert production_security["DEBUG"] is False
    assert production_security["SECURE_HSTS_SECONDS"] >= 60 * 60 * 24 * 365
    assert production_security["SESSION_COOKIE_SECURE"] is True
    assert production_security["CSRF_COOKIE_SECURE"] is True
    assert production_security["SECURE_SSL_REDIRECT"] is True


RENDER_WITH_MANIFEST = """
import re, sys
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings

with override_settings(STATIC_ROOT=sys.argv[1]):
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client()
    page = client.get("/login/", secure=True, headers={"host": "keepwarm.example"})
    print("page", page.status_code)
    for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.content.decode()):
        print("asset", client.get(url, secure=True, headers={"host": "keepwarm.example"}).status_code, url)
"""


def test_production_pages_render_with_collected_hashed_static_files(tmp_path):
    # Tests use plain static storage; production uses WhiteNoise's manifest, where a template
    # naming a file that does not exist is a 500 on every page. Collect, then render for real.
    env = {**_production_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, "-c", RENDER_WITH_MANIFEST, str(tmp_path / "static")],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "page 200" in lines, result.stdout + result.stderr[-3000:]
    assets = [line for line in lines if line.startswith("asset ")]
    assert any(".css" in line for line in assets), lines
    assert all(line.startswith("asset 200 ") for line in assets), assets


# --- Headers on a real page -----------------------------------------------------------------


def test_the_login_page_carries_the_security_headers(db):
    response = Client().get("/login/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_under_production_settings_https_pages_carry_hsts_and_secure_cookies(db, production_security):
    # The settings production.py produces, applied here; a new Client loads the middleware
    # with them. The request arrives over HTTPS as it would behind the TLS proxy.
    with override_settings(**production_security, ALLOWED_HOSTS=["keepwarm.example"]):
        response = Client().get("/login/", secure=True, headers={"host": "keepwarm.example"})
        assert response.status_code == 200
        hsts = response.headers["Strict-Transport-Security"]
        assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
        assert response.cookies["csrftoken"]["secure"]
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]

        plain = Client().get("/login/", headers={"host": "keepwarm.example"})
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")


# --- Errors ---------------------------------------------------------------------------------


def _explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("internal detail: password=hunter2 in /srv/keepwarm/crm/services.py")


urlpatterns = [path("explode/", _explode), path("", include("config.urls"))]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_shows_a_generic_page(db):
    response = Client(raise_request_exception=False).get("/explode/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "internal detail" not in body and "hunter2" not in body
    assert "Traceback" not in body and "services.py" not in body


@override_settings(DEBUG=False)
def test_a_missing_page_shows_a_generic_404(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "URLconf" not in body and "config.urls" not in body


@pytest.mark.django_db
def test_postgresql_connections_never_jit_compile_queries():
    """JIT compilation cost 1.4 s on a 0.1 s dashboard query at 100,000 accounts (see settings)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("JIT is a PostgreSQL setting; this run uses " + connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
