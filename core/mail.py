"""How every email Keepwarm sends is put together, and how a send that fails ends.

Every app's email builders call `email_message`, so that in every email:

- the subject is one line of plain text (`header_text`): a name pasted from a spreadsheet with a
  line break in it would otherwise make Django refuse the whole message (`BadHeaderError`), for
  that email and every retry of it;
- the text part is rendered without HTML escaping (customers read "Smith & Jones", not
  "Smith &amp; Jones"); an HTML alternative, when there is one, stays escaped;
- times are rendered in the recipient's time zone (`zone_of`), as the pages render them, and the
  templates name the zone (`time_zone` in their context);
- an email to staff names its users (`users`) and the page it opens (`link`), so that the outbox
  shows the same notice in each user's bell (outbox.notices) and skips the email to a user who
  chose the bell alone; addresses given in `to` (customers) have no bell.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError
from django.template import Context, Engine
from django.utils import timezone

# Retrying cures these: a mail server or network that is down, a database that hiccupped.
# Everything else (a header Django refuses, an invalid address, a broken template, a row that is
# gone) fails the same way every time, so it ends failed at once instead of being retried.
# smtplib.SMTPException, ConnectionError and TimeoutError are all OSErrors.
TRANSIENT_SEND_ERRORS: tuple[type[BaseException], ...] = (OSError, DatabaseError)

_SPACES = re.compile(r"\s+")
_BREAK = "\uffff"  # a noncharacter: never in real text
_BREAK_BEFORE_PUNCTUATION = re.compile(f"[\\s{_BREAK}]*{_BREAK}[\\s{_BREAK}]*(?=[?!.,;:)\\]]|$)")
SUBJECT_LIMIT = 250


def header_text(value: Any, *, limit: int = SUBJECT_LIMIT) -> str:
    """`value` as one line fit for an email header: line breaks, tabs and other control or
    separator characters become single spaces, and it is cut at `limit` characters."""
    text = "".join(_header_char(char) for char in str(value))
    # A break left at the end of a pasted name ("Alice\r\n") goes before punctuation:
    # "How is it going, Alice?", not "Alice ?".
    text = _BREAK_BEFORE_PUNCTUATION.sub("", text).replace(_BREAK, " ")
    text = _SPACES.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _header_char(char: str) -> str:
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp"):  # CR, LF, tab, NUL, U+2028...: a break or a gap
        return _BREAK
    if category == "Cf" and char != "\u200d":  # invisible formatting (bidi overrides); ZWJ joins emoji
        return ""
    return char


def render_text(template_name: str, context: dict[str, Any]) -> str:
    """A text template rendered without HTML escaping: a text part is not HTML."""
    template = Engine.get_default().get_template(template_name)
    return template.render(Context(context, autoescape=False))


def render_html(template_name: str, context: dict[str, Any]) -> str:
    template = Engine.get_default().get_template(template_name)
    return template.render(Context(context, autoescape=True))


class Email(EmailMultiAlternatives):
    """An email, with what the product's bell needs of it: the staff users it goes to (each one's
    address is in `to`) and the page on this site it opens (`link`, a path)."""

    def __init__(self, *args: Any, users: Sequence[Any] = (), link: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.users = list(users)
        self.link = link


def site_path(url: str) -> str:
    """`url` as a path on this site: SITE_URL taken off the front; "" for anything else (another
    host, a scheme-relative `//host`), so a link shown in the product never leaves it."""
    if url.startswith(settings.SITE_URL + "/"):
        url = url[len(settings.SITE_URL):]
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else ""


def email_message(
    *,
    subject: str,
    template: str,
    context: dict[str, Any],
    to: Sequence[str] = (),
    users: Sequence[Any] = (),
    link: str = "",
    zone: zoneinfo.ZoneInfo | None = None,
    html: bool = False,
) -> Email:
    """An email from `template`.txt (and `template`.html when `html`), rendered in `zone`
    (the recipient's; UTC when not given), with a one-line subject. `to`: addresses (a
    customer's); `users`: staff, addressed by their email and shown the notice in their bell,
    which opens `link` (a URL or path on this site)."""
    zone = zone or zoneinfo.ZoneInfo("UTC")
    addresses = list(dict.fromkeys([*to, *(user.email for user in users)]))
    context = {"site_url": settings.SITE_URL, **context, "time_zone": zone.key}
    with timezone.override(zone):
        body = render_text(f"{template}.txt", context)
        alternative = render_html(f"{template}.html", context) if html else None
    message = Email(
        subject=header_text(subject), body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=addresses,
        users=users, link=site_path(link),
    )
    if alternative is not None:
        message.attach_alternative(alternative, "text/html")
    return message


def send_error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]
