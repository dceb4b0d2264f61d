"""No customer or calendar token reaches any log (config/redaction.py).

A token in a URL is the credential, and every server writes the URLs it served. These tests
request token URLs (valid, invalid, unknown) through the test client, a real runserver and a
real gunicorn on loopback, read what was logged, and find a redacted form and never the token.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from config.redaction import REDACTED, GunicornLogger, RedactTokensFilter, redact
from crm.models import Account, Contact
from customer_links import services as links
from customer_links import tasks as customer_links_tasks
from customer_links.models import CustomerLink
from touchpoints import services as touchpoint_services

BASE_DIR = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent


def _token() -> str:
    return secrets.token_urlsafe(32)


# --- The rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        '"GET /c/signoff/open/{t}/ HTTP/1.1" 302 0',
        '"GET /c/survey/open/{t}/ HTTP/1.1" 404 1234',
        "Not Found: /c/portal/open/{t}/",
        '"GET /calendar/{t}.ics HTTP/1.1" 200 512',
        "http://127.0.0.1:8000/c/portal/open/{t}/?utm=x",
        "/reset/MQ/{t}/",
        "/accounts/?token={t}&page=2",
    ],
)
def test_it_replaces_the_token_and_keeps_the_urls_shape(template):
    token = _token()
    redacted = redact(template.format(t=token))
    assert token not in redacted
    assert redacted == template.format(t=REDACTED)


def test_it_leaves_urls_without_a_token_alone():
    for text in ('"GET /calendar/ HTTP/1.1" 200', "/c/portal/12/", "/reset/MQ/set-password/", "/accounts/3/"):
        assert redact(text) == text
    assert redact(redact("/c/portal/open/abc/")) == f"/c/portal/open/{REDACTED}/"


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        else:
            yield route, entry


def test_every_url_pattern_that_carries_a_token_is_redacted():
    """A new token route that config.redaction does not know fails here."""
    token_routes = [
        (route, entry) for route, entry in _routes(get_resolver())
        if "token" in entry.pattern.converters or re.search(r"<\w+:token>|<token>", route)
    ]
    assert len(token_routes) >= 5, token_routes  # sign-off, survey, portal, calendar, password reset
    for route, _entry in token_routes:
        token = _token()
        url = "/" + re.sub(r"<(?:\w+:)?token>", token, re.sub(r"<(?:\w+:)?(?!token)\w+>", "MQ", route)).lstrip("^")
        assert token not in redact(url), f"{route}: {redact(url)}"


def test_the_filter_redacts_arguments_and_tracebacks():
    token = _token()
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s', (f"GET /c/portal/open/{token}/", 302), None)
    try:
        raise ValueError(f"bad link /c/portal/open/{token}/")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactTokensFilter().filter(record) is True
    formatted = logging.Formatter().format(record)
    assert token not in formatted and f"/c/portal/open/{REDACTED}/" in formatted and "ValueError" in formatted


# --- Through the test client: django.request ---------------------------------------------------


@pytest.fixture
def portal_token(account: Account) -> str:
    contact = Contact.objects.create(account=account, first_name="Alice", email="alice@acme.example")
    _link, raw = links.link_issue(
        purpose=CustomerLink.Purpose.PORTAL, account=account, target=account, contact=contact, by=None,
        valid_for=timedelta(days=1), reusable=True,
    )
    return raw


def test_no_token_in_djangos_request_log(portal_token, rep, caplog):
    caplog.set_level(logging.INFO)
    feed = touchpoint_services.calendar_feed_reset(user=rep)
    unknown = _token()
    client = Client()
    assert client.get(f"/c/portal/open/{portal_token}/").status_code == 302
    assert client.get(f"/c/signoff/open/{unknown}/").status_code == 404
    assert client.get(f"/calendar/{feed}.ics").status_code == 200
    assert client.get(f"/calendar/{unknown}.ics").status_code == 404
    logged = "\n".join(logging.Formatter().format(record) for record in caplog.records)
    for token in (portal_token, unknown, feed):
        assert token not in logged
    assert f"Not Found: /c/signoff/open/{REDACTED}/" in logged
    assert f"Not Found: /calendar/{REDACTED}.ics" in logged


def test_link_emails_pass_no_token_through_celery(stage_signoff_request):
    calls, raw = stage_signoff_request
    assert calls, "the sign-off email was not queued"
    for args, kwargs in calls:
        assert raw not in repr((args, kwargs))
        assert all(isinstance(arg, int) for arg in args)


@pytest.fixture
def stage_signoff_request(project, delivery, mailoutbox, django_capture_on_commit_callbacks, monkeypatch):
    from delivery import services

    calls: list[tuple[Any, Any]] = []
    real_apply = customer_links_tasks.email_customer_link.apply_async

    def recording_apply(args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        calls.append((tuple(args or ()), dict(kwargs or {})))
        return real_apply(args, kwargs, **options)

    monkeypatch.setattr(customer_links_tasks.email_customer_link, "apply_async", recording_apply)
    stage = project.stages.get(position=1)
    contact = project.account.contacts.get(first_name="Alice")
    with django_capture_on_commit_callbacks(execute=True):
        services.stage_start(stage=stage, by=delivery)
        services.stage_request_signoff(stage=stage, by=delivery, contact=contact, delivered="Kickoff held.")
    url = next(word for m in mailoutbox for word in m.body.split() if "/c/signoff/open/" in word)
    return calls, url.rstrip("/").rsplit("/", 1)[1]


# --- Real servers on loopback: runserver and gunicorn -----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SETUP = """
from datetime import timedelta
from customer_links import services as links
from django.contrib.auth import get_user_model
from crm.models import Account, Contact
from customer_links.models import CustomerLink
from touchpoints.services import calendar_feed_reset
user = get_user_model().objects.create(username="feeder", email="feeder@example.com")
account = Account.objects.create(name="Acme", owner=user)
contact = Contact.objects.create(account=account, first_name="Alice", email="alice@acme.example")
_link, portal = links.link_issue(purpose=CustomerLink.Purpose.PORTAL, account=account, target=account,
                                 contact=contact, by=None, valid_for=timedelta(days=1), reusable=True)
print("TOKENS", portal, calendar_feed_reset(user=user))
"""


@pytest.fixture(scope="module")
def served_env(tmp_path_factory) -> tuple[dict[str, str], dict[str, str]]:
    """A migrated SQLite file with a portal link and a calendar feed, and their tokens."""
    folder = tmp_path_factory.mktemp("served")
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}", "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO",
    }
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0", "--noinput"], env=env, cwd=BASE_DIR, check=True, capture_output=True)
    out = subprocess.run([*manage, "shell", "-c", SETUP], env=env, cwd=BASE_DIR, check=True, capture_output=True,
                         text=True).stdout
    portal, feed = out.split("TOKENS", 1)[1].split()
    return env, {"portal": portal, "feed": feed, "unknown": _token()}


def _request_token_urls(port: int, tokens: dict[str, str]) -> list[int]:
    opener = urllib.request.build_opener(_NoRedirect)
    statuses = []
    for path in (f"/c/portal/open/{tokens['portal']}/", f"/c/signoff/open/{tokens['unknown']}/",
                 f"/calendar/{tokens['feed']}.ics", f"/calendar/{tokens['unknown']}.ics"):
        try:
            statuses.append(opener.open(f"http://127.0.0.1:{port}{path}", timeout=10).status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    return statuses


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the server did not answer /healthz in 30 s")


def _serve_and_read_log(argv: list[str], env: dict[str, str], port: int, tokens: dict[str, str],
                        log: Path) -> tuple[list[int], str]:
    with log.open("w") as out:
        process = subprocess.Popen(argv, env=env, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for(port, process)
            statuses = _request_token_urls(port, tokens)
            time.sleep(0.5)  # let the access log flush
        finally:
            process.terminate()
            process.wait(timeout=15)
    return statuses, log.read_text()


def _assert_redacted(text: str, tokens: dict[str, str]) -> None:
    for name, token in tokens.items():
        assert token not in text, f"the {name} token is in the log:\n{text}"
    assert f"/c/portal/open/{REDACTED}/" in text, text
    assert f"/c/signoff/open/{REDACTED}/" in text, text
    assert f"/calendar/{REDACTED}.ics" in text, text


def test_no_token_in_runservers_log(served_env, tmp_path):
    env, tokens = served_env
    port = _free_port()
    argv = [sys.executable, str(BASE_DIR / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"]
    statuses, text = _serve_and_read_log(argv, env, port, tokens, tmp_path / "runserver.log")
    assert statuses == [302, 404, 200, 404]
    _assert_redacted(text, tokens)
    assert "Not Found: /calendar/" in text  # Django's warning log is in there too


@pytest.mark.parametrize("source", ["Dockerfile", "docker-compose.yml"])
def test_production_gunicorn_commands_use_the_redacting_logger(source):
    assert "config.redaction.GunicornLogger" in (BASE_DIR / source).read_text()
    assert GunicornLogger.__module__ == "config.redaction"


def test_no_token_in_gunicorns_access_log(served_env, tmp_path):
    env, tokens = served_env
    port = _free_port()
    argv = [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--access-logfile", "-", "--logger-class", "config.redaction.GunicornLogger"]
    statuses, text = _serve_and_read_log(argv, env, port, tokens, tmp_path / "gunicorn.log")
    assert statuses == [302, 404, 200, 404]
    _assert_redacted(text, tokens)
    assert re.search(r'"GET /calendar/\[redacted\]\.ics HTTP/1\.[01]" 200', text), text
