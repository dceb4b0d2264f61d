"""The production smoke walk, driven by scripts/smoke.sh against a real stack (gunicorn, a
Celery worker and beat, PostgreSQL, Redis, an SMTP catcher). Standard library only.

  smoke.py users              prints the Python that creates the walk's users (for manage.py shell)
  smoke.py walk               logs in, walks a handover to acceptance, reads the emails over SMTP,
                              opens the customer's link, checks static files and security headers
  smoke.py scan LOG...        fails on a traceback, a 5xx or any token seen in the logs

Environment: SMOKE_BASE (http://127.0.0.1:PORT), SMOKE_MAILDIR (the catcher's Maildir),
SMOKE_PASSWORD (the users' password), SMOKE_SECRETS (a file: every token seen, one a line).
"""

from __future__ import annotations

import email.policy
import http.cookiejar
import json
import mailbox
import os
import re
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, NoReturn, cast

USERS = {
    "rep": "Sales rep",
    "salesmgr": "Sales manager",
    "deliverymgr": "Delivery manager",
    "delivery": "Delivery team member",
}
CUSTOMER = "alice.smoke@customer.example"
MAIL_WAIT_SECONDS = 60


def say(message: str) -> None:
    print(f"smoke: {message}", flush=True)


def fail(message: str) -> NoReturn:
    raise SystemExit(f"smoke: FAILED: {message}")


def users_script() -> str:
    """Run by `manage.py shell`: the walk's users (demo data is refused with DEBUG off)."""
    return f"""
import os
from django.contrib.auth.models import Group, User
for username, role in {USERS!r}.items():
    user = User.objects.create_user(username=username, password=os.environ["SMOKE_PASSWORD"],
                                    email=username + "@vendor.example", first_name=username.capitalize(),
                                    last_name="Smoke")
    user.groups.add(Group.objects.get(name=role))
print("users:", ", ".join(sorted({USERS!r})))
"""


# --- HTTP -------------------------------------------------------------------------------------


class LoopbackCookiePolicy(http.cookiejar.DefaultCookiePolicy):
    """Sends Secure cookies to 127.0.0.1 over plain HTTP, as browsers do for loopback (a
    "potentially trustworthy" origin); the stack sets them Secure as production does."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return True


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    def __init__(self, base: str, secrets: list[str], *, follow: bool = True) -> None:
        self.base = base
        self.secrets = secrets
        self.jar = http.cookiejar.CookieJar(policy=LoopbackCookiePolicy())
        handlers: list[Any] = [urllib.request.HTTPCookieProcessor(self.jar)]
        if not follow:
            handlers.append(NoRedirect())
        self.opener = urllib.request.build_opener(*handlers)
        self.token: str | None = None

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], bytes, str]:
        url = path if path.startswith("http") else self.base + path
        data = None
        all_headers = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if self.token:
            all_headers["Authorization"] = f"Token {self.token}"
        if not url.startswith(("http://", "https://")):
            fail(f"not an HTTP URL: {url!r}")
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310 - checked above
        try:
            with self.opener.open(request, timeout=30) as response:
                status, header_map, content, final = response.status, response.headers, response.read(), response.url
        except urllib.error.HTTPError as error:
            status, header_map, content, final = error.code, error.headers, error.read(), error.url
        if status >= 500:
            fail(f"{method} {path} answered {status}: {content[:500]!r}")
        headers_out = {key.lower(): value for key, value in header_map.items()}
        headers_out["set-cookie"] = "\n".join(header_map.get_all("Set-Cookie") or [])
        return status, headers_out, content, final

    def api(self, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
        status, _headers, content, _final = self.request(method, "/api/v1" + path, body)
        if status != expect:
            fail(f"{method} /api/v1{path} answered {status}, not {expect}: {content[:500]!r}")
        return json.loads(content) if content else None

    def log_in(self, username: str, password: str) -> None:
        self.token = None
        self.token = self.api("POST", "/auth/token/", {"username": username, "password": password})["token"]
        self.secrets.append(self.token)


# --- Email over SMTP --------------------------------------------------------------------------


def wait_for_mail(maildir: Path, *, to: str, subject: str, seen: set[str]) -> EmailMessage:
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while time.monotonic() < deadline:
        if not (maildir / "cur").is_dir():  # the catcher has received nothing yet
            time.sleep(0.5)
            continue
        box = mailbox.Maildir(maildir, factory=None, create=False)
        for key in box.keys():
            if key in seen:
                continue
            with box.get_file(key) as handle:
                message = email.message_from_binary_file(handle, policy=email.policy.default)
            if to in str(message["To"]) and subject in str(message["Subject"]):
                seen.add(key)
                return cast(EmailMessage, message)  # policy=default parses into EmailMessage
        time.sleep(0.5)
    fail(f"no email to {to} with {subject!r} arrived over SMTP within {MAIL_WAIT_SECONDS} s")


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        fail(f"email {message['Subject']!r} has no text part")
    return str(part.get_content())


# --- The walk ---------------------------------------------------------------------------------


def walk() -> None:
    base = os.environ["SMOKE_BASE"].rstrip("/")
    maildir = Path(os.environ["SMOKE_MAILDIR"])
    password = os.environ["SMOKE_PASSWORD"]
    secrets_file = Path(os.environ["SMOKE_SECRETS"])
    secrets: list[str] = []
    started = time.monotonic()
    try:
        _walk(base, maildir, password, secrets)
    finally:
        secrets_file.write_text("".join(f"{value}\n" for value in secrets))
    say(f"walk passed in {time.monotonic() - started:.1f} s")


def _walk(base: str, maildir: Path, password: str, secrets: list[str]) -> None:
    secrets.append(password)
    clients = {name: Client(base, secrets) for name in USERS}
    for name, client in clients.items():
        client.log_in(name, password)
    rep, salesmgr, deliverymgr, delivery = (clients[name] for name in USERS)
    say("four users logged in through the API (token auth)")
    users = {row["username"]: row["id"] for row in salesmgr.api("GET", "/users/?page_size=200")["results"]}

    account = rep.api("POST", "/accounts/", {"name": "Smoke Test Industries", "lifecycle": "prospect"}, expect=201)
    contact = rep.api("POST", "/contacts/", {"account": account["id"], "first_name": "Alice", "last_name": "Smoke",
                                             "email": CUSTOMER}, expect=201)
    deal = rep.api("POST", "/deals/", {
        "account": account["id"], "name": "Line 2 robots", "value": "48000.00", "currency": "EUR",
        "line_items": [{"kind": "product", "name": "Robot arm", "quantity": "2", "unit_price": "24000.00"}],
    }, expect=201)
    promise = rep.api("POST", "/promises/", {
        "deal": deal["id"], "kind": "deliverable", "description": "Two robot arms installed by the spring",
        "source": "proposal", "made_to": contact["id"],
    }, expect=201)
    rep.api("POST", f"/deals/{deal['id']}/win/")
    say(f"account {account['id']}, contact, deal {deal['id']} with a promise; deal won")

    handover = rep.api("GET", f"/handovers/?account={account['id']}")["results"][0]
    meeting = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    rep.api("PATCH", f"/handovers/{handover['id']}/", {
        "customer_expectations": "Line 2 running before the spring peak.", "meeting_at": meeting,
        "meeting_held": True, "meeting_minutes": "Walked through the plan with Alice.",
    })
    rep.api("POST", f"/handovers/{handover['id']}/submit/")
    salesmgr.api("POST", f"/promises/{promise['id']}/review/", {"verdict": "ok"})
    salesmgr.api("POST", f"/handovers/{handover['id']}/approve/")
    deliverymgr.api("POST", f"/promises/{promise['id']}/review/", {"verdict": "feasible"})
    accepted = deliverymgr.api("POST", f"/handovers/{handover['id']}/accept/", {"delivery_owner": users["delivery"]})
    if accepted["state"] != "accepted":
        fail(f"the handover is {accepted['state']}, not accepted")
    say(f"handover {handover['id']}: filled, submitted, approved, accepted")

    seen: set[str] = set()
    introduction = wait_for_mail(maildir, to=CUSTOMER, subject="Your delivery owner", seen=seen)
    if "Delivery Smoke" not in text_of(introduction):
        fail("the customer's introduction does not name the delivery owner")
    say("the worker sent the customer's introduction over SMTP")

    delivery.api("POST", "/portal-links/", {"account": account["id"], "contact": contact["id"]}, expect=201)
    portal_mail = wait_for_mail(maildir, to=CUSTOMER, subject="", seen=seen)
    links = re.findall(r"https?://\S+/c/portal/open/[\w-]+/", text_of(portal_mail))
    if not links or not links[0].startswith(base + "/"):
        fail(f"no portal link on {base} in the customer's email: {text_of(portal_mail)[:500]!r}")
    link = links[0]
    token = link.rstrip("/").rsplit("/", 1)[1]
    secrets.append(token)
    say("the customer's portal email arrived over SMTP with its link")
    open_customer_link(base, link, token, secrets)
    check_static_and_headers(base, secrets)


def open_customer_link(base: str, link: str, token: str, secrets: list[str]) -> None:
    landing = Client(base, secrets, follow=False)
    status, headers, _content, _final = landing.request("GET", link, headers={"Accept": "text/html"})
    if status != 302 or token in headers.get("location", ""):
        fail(f"the link's landing answered {status} to {headers.get('location')!r}, not a redirect without the token")
    cookie = next((c for c in headers["set-cookie"].split("\n") if c.startswith("sessionid=")), "")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        if flag.lower() not in cookie.lower():
            fail(f"the customer's session cookie lacks {flag}: {cookie!r}")
    customer = Client(base, secrets)
    status, headers, content, final = customer.request("GET", link, headers={"Accept": "text/html"})
    if status != 200 or token in final or "/c/portal/" not in final:
        fail(f"the customer's link ended at {final} with {status}")
    if "no-store" not in headers.get("cache-control", ""):
        fail(f"the customer's portal is cacheable: {headers.get('cache-control')!r}")
    if b"Smoke Test Industries" not in content:
        fail("the customer's portal does not show the account")
    say(f"the customer's link opened the portal (200 at {final[len(base):]}, the token left the URL)")


def check_static_and_headers(base: str, secrets: list[str]) -> None:
    browser = Client(base, secrets)
    status, headers, content, _final = browser.request(
        "GET", "/login/", headers={"Accept": "text/html", "X-Forwarded-Proto": "https"}
    )
    if status != 200:
        fail(f"the login page answered {status}")
    expected = {
        "content-security-policy": "frame-ancestors 'none'",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
        # Behind the TLS proxy (X-Forwarded-Proto: https), as production is.
        "strict-transport-security": "max-age=",
    }
    for header, value in expected.items():
        if value not in headers.get(header, ""):
            fail(f"the login page's {header} is {headers.get(header)!r}, expected {value!r} in it")
    csrf = next((c for c in headers["set-cookie"].split("\n") if c.startswith("csrftoken=")), "")
    if "secure" not in csrf.lower():
        fail(f"the CSRF cookie is not Secure: {csrf!r}")
    say("the login page carries CSP (frame-ancestors 'none'), nosniff, Referrer-Policy, HSTS and Secure cookies")

    stylesheets = re.findall(rb'href="(/static/[^"]+\.css)"', content)
    if not stylesheets:
        fail("the login page links no stylesheet")
    for href in stylesheets:
        status, headers, body, _final = browser.request("GET", href.decode(), headers={"Accept": "text/css"})
        if status != 200 or not body or "text/css" not in headers.get("content-type", ""):
            fail(f"{href.decode()} answered {status} ({headers.get('content-type')})")
        if "max-age=" not in headers.get("cache-control", ""):
            fail(f"{href.decode()} has no cache lifetime: {headers.get('cache-control')!r}")
    count = len(stylesheets)
    say(f"{count} stylesheet{'' if count == 1 else 's'} served with 200 and {headers.get('cache-control')!r}")


# --- The logs ---------------------------------------------------------------------------------

# gunicorn's access log: '... "GET /path HTTP/1.1" 502 ...'
SERVER_ERROR = re.compile(r'" (5\d\d) ')


def scan(paths: list[str]) -> None:
    secrets = [line.strip() for line in Path(os.environ["SMOKE_SECRETS"]).read_text().splitlines() if line.strip()]
    problems = []
    for path in paths:
        text = Path(path).read_text(errors="replace")
        name = Path(path).name
        if "Traceback" in text:
            problems.append(f"{name}: a traceback\n" + text[text.index("Traceback"):][:3000])
        for match in SERVER_ERROR.finditer(text):
            line = text[text.rfind("\n", 0, match.start()) + 1:text.find("\n", match.end())]
            problems.append(f"{name}: a {match.group(1)} answer: {line}")
        for secret in secrets:
            if secret in text:
                problems.append(f"{name}: a token or password seen in the walk is in the log ({secret[:4]}...)")
    if "[redacted]" not in "".join(Path(path).read_text(errors="replace") for path in paths):
        problems.append("no log shows a redacted customer link: was the link opened?")
    if problems:
        for problem in problems:
            print(f"smoke: FAILED: {problem}", file=sys.stderr)
        raise SystemExit(1)
    say(f"logs clean: no traceback, no 5xx, none of {len(secrets)} secrets in {len(paths)} logs")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "users":
        print(users_script())
    elif command == "walk":
        walk()
    elif command == "scan":
        scan(sys.argv[2:])
    else:
        raise SystemExit(__doc__)
