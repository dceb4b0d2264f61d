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


VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}

# Runs in every document the journeys open, before the page's own scripts (Playwright injects it
# through the DevTools protocol, so the CSP does not apply to it). After the page loads and after
# every htmx swap it reports sideways scrolling as a console error, naming the widest elements:
# the same collector that catches CSP violations then fails the test with the page's URL.
OVERFLOW_WATCH = """
(() => {
  const check = (when) => {
    const root = document.documentElement;
    if (!root || root.scrollWidth <= root.clientWidth) return;
    const width = root.clientWidth;
    const culprits = [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > width + 1 &&
                      el.parentElement.getBoundingClientRect().right <= width + 1)
      .slice(0, 3)
      .map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
           (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : ""));
    console.error(`horizontal overflow (${when}): ${root.scrollWidth}px wide in ${width}px at ${location.href}: ${culprits.join(", ")}`);
  };
  window.addEventListener("load", () => check("load"));
  document.addEventListener("htmx:afterSettle", () => check("htmx swap"));
})();
"""

OVERFLOW_NOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def watched_page(browser: Any, live_server: Any, viewport: str) -> Any:
    """A new page in a browser context of its own (no cookies shared: a customer opening their
    link is not the staff member), at one of VIEWPORTS, collecting every console error, every
    page it visits and every answer >= 400; `assert_clean` checks them when the journey ends."""
    context = browser.new_context(base_url=live_server.url, **VIEWPORTS[viewport])
    context.add_init_script(OVERFLOW_WATCH)
    page = context.new_page()
    errors: list[str] = []
    visited: list[str] = []
    # A CSP violation or a broken script shows up as a console error: collect them for the test.
    page.on("console", lambda msg: errors.append(f"{msg.text} (on {page.url})") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"{exc} (on {page.url})"))
    page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
    # Which request a "Failed to load resource" console error was about (Chromium does not say).
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None)
    page.console_errors = errors  # type: ignore[attr-defined]
    page.visited = visited  # type: ignore[attr-defined]
    page.failed_answers = failed  # type: ignore[attr-defined]
    page.viewport_name = viewport  # type: ignore[attr-defined]
    page.width = VIEWPORTS[viewport]["viewport"]["width"]  # type: ignore[attr-defined]
    return page


def assert_clean(page: Any) -> None:
    """Closes the page's context and fails on any sideways scrolling left at the end and any
    console error the journey did not provoke on purpose."""
    errors: list[str] = page.console_errors
    try:
        overflow = page.evaluate(OVERFLOW_NOW) if not page.is_closed() else 0
        if overflow > 0:
            errors.append(f"horizontal overflow at the end: {overflow}px too wide at {page.url}")
    finally:
        page.context.close()
    # Chromium logs every 4xx answer as a console error; ours for bad input (400, the form again
    # with its messages) and for a conflict (409) are answers the journeys provoke on purpose.
    # Anything else (a missing asset, a 403 or 500) fails, unless the test names it.
    allowed = ("status of 400 (Bad Request)", "status of 409 (Conflict)", *getattr(page, "allowed_console_errors", ()))
    unexpected = [e for e in errors if not any(a in e for a in allowed)]
    assert not unexpected, (
        f"at {page.width}px, pages visited {page.visited}, answers >= 400 {page.failed_answers}:\n"
        + "\n".join(unexpected)
    )


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Any, live_server: Any) -> Iterator[Any]:
    """A page at 1280x800 and again at 390x844 (each journey runs at both widths). Every page it
    visits must show no console error (a CSP violation, a broken script) and no sideways
    scrolling; the test fails with the URL otherwise."""
    page = watched_page(browser, live_server, request.param)
    yield page
    assert_clean(page)


def customer_page(browser: Any, live_server: Any, staff_page: Any) -> Any:
    """The customer's own browser, at the width the journey's staff page runs at, held to the
    same rules (no console error, no sideways scrolling): call `assert_clean` on it when done."""
    return watched_page(browser, live_server, staff_page.viewport_name)


def log_in(page: Any, username: str, password: str = PASSWORD) -> None:
    """Through the real log-in form, as a person would."""
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Saves var/screenshots/<name>-<width>.png so a person can look at what the browser saw
    at each width the journeys run at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = (page.viewport_size or {}).get("width")
    path = SCREENSHOTS / (f"{name}-{width}.png" if width else f"{name}.png")
    if full_page:
        # A full-page shot keeps the sticky header where the last click scrolled it, across the
        # middle of the picture: from the top it sits where a person sees it.
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=full_page)
    return path


def open_nav(page: Any) -> None:
    """Opens the menu the links fold into on a narrow screen (nothing to do on a wide one)."""
    toggle = page.locator("label.nav-toggle-label")
    if toggle.is_visible() and not page.locator("#nav-toggle").is_checked():
        toggle.click()


def nav_to(page: Any, label: str) -> None:
    """Follows a link of the main navigation as a person would at this width."""
    open_nav(page)
    page.locator("nav.mainnav a", has_text=label).first.click()
    page.wait_for_load_state("load")
