"""Browser harness: Playwright's sync API driving Debian's Chromium (never a downloaded browser).

Every test here is marked `browser` and skipped with a clear reason when /usr/bin/chromium is
missing. Pages are served by pytest-django's `live_server` (static files included).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "keepwarm-test-pw"  # what tests.conftest.make_user gives every persona


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is missing: install Debian's chromium package"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per browser test module, and Playwright's loop only while it runs.

    Playwright's sync API runs an asyncio loop in this thread. While it runs, Django refuses ORM
    calls unless told the caller knows what it is doing (the loop never touches the ORM), and
    asgiref keeps Django's connections in a per-context store instead of the thread's, so the
    tests open connections of their own there. Both end with the module: the connections are
    closed while that store is still the one in use (left open, they kept the test database
    from being dropped at the end of the run), and the tests after this module run as usual,
    Django's async-safety check included."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                yield chromium
            finally:
                chromium.close()
                connections.close_all()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved




@pytest.fixture(autouse=True)
def delivery_plans(transactional_db: Any) -> None:
    """Browser tests are transactional: each one flushes the tables at its end, with the rows the
    data migrations made. The delivery plans are needed by any journey that accepts a handover,
    whatever ran before it, so they are put back for every test (roles are, by make_user)."""
    from delivery.models import PlanTemplate, PlanTemplateStage
    from delivery.plans import create_default_plans

    create_default_plans(PlanTemplate, PlanTemplateStage)


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    # A CSP violation or a broken script shows up as a console error: collect them for the test.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def log_in(page: Any, username: str, password: str = PASSWORD) -> None:
    """Through the real log-in form, as a person would."""
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Saves var/screenshots/<name>.png so a person can look at what the browser saw."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
