"""In development, emails are files under var/mail/; staff read them here.

Django's file backend writes each batch of messages to one file, separated by a line of 79
dashes, as the raw message: subjects outside ASCII are encoded (`=?utf-8?q?...?=`), long
headers are folded over several lines and bodies may be quoted-printable or base64. Each message
is parsed with the standard library's modern policy, so the list and the page read as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

SEPARATOR = "\n" + "-" * 79 + "\n"


@dataclass
class Mail:
    subject: str
    sender: str
    to: str
    cc: str
    date: str
    text: str
    html: str


def _mail_dir() -> Path | None:
    if getattr(settings, "EMAIL_BACKEND", "") != "django.core.mail.backends.filebased.EmailBackend":
        return None
    return Path(settings.EMAIL_FILE_PATH)


def _date(value: str) -> str:
    """The Date header as written, or in a readable form when it parses."""
    try:
        return parsedate_to_datetime(value).strftime("%a %d %b %Y %H:%M:%S %z")
    except (TypeError, ValueError, IndexError):
        return value


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # an unknown charset or a broken encoding: show it raw
        return str(part.get_payload())


def parse_file(path: Path) -> list[Mail]:
    mails = []
    for chunk in path.read_text(encoding="utf-8", errors="replace").split(SEPARATOR):
        if not chunk.strip():
            continue
        message = message_from_string(chunk.lstrip("\n"), policy=policy.default)
        if not isinstance(message, EmailMessage) or not message.keys():
            continue
        mails.append(
            Mail(
                subject=str(message.get("Subject", "")),
                sender=str(message.get("From", "")),
                to=str(message.get("To", "")),
                cc=str(message.get("Cc", "")),
                date=_date(str(message.get("Date", ""))),
                text=_part(message, "plain"),
                html=_part(message, "html"),
            )
        )
    return mails


@staff_member_required
def mail_list(request: HttpRequest) -> HttpResponse:
    folder = _mail_dir()
    files: list[Path] = []
    if folder and folder.exists():
        files = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)[:200]
    rows = []
    for file in files:
        mails = parse_file(file) or [Mail("", "", "", "", "", "", "")]
        first = mails[0]
        rows.append({"name": file.name, "subject": first.subject, "to": first.to, "date": first.date,
                     "count": len(mails), "size": file.stat().st_size})
    return render(request, "dev/mail_list.html", {"rows": rows, "enabled": folder is not None, "folder": folder})


@staff_member_required
def mail_detail(request: HttpRequest, name: str) -> HttpResponse:
    folder = _mail_dir()
    if folder is None or "/" in name or not name.endswith(".log"):
        raise Http404
    path = folder / name
    if not path.is_file():
        raise Http404
    return render(request, "dev/mail_detail.html", {"name": name, "mails": parse_file(path)})
