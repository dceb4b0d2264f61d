"""In development, emails are files under var/mail/; staff read them here."""

from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render


def _mail_dir() -> Path | None:
    if getattr(settings, "EMAIL_BACKEND", "") != "django.core.mail.backends.filebased.EmailBackend":
        return None
    return Path(settings.EMAIL_FILE_PATH)


@staff_member_required
def mail_list(request: HttpRequest) -> HttpResponse:
    folder = _mail_dir()
    files: list[Path] = []
    if folder and folder.exists():
        files = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)[:200]
    rows = []
    for file in files:
        subject = ""
        to = ""
        with file.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("Subject:") and not subject:
                    subject = line[8:].strip()
                elif line.startswith("To:") and not to:
                    to = line[3:].strip()
                if subject and to:
                    break
        rows.append({"name": file.name, "subject": subject, "to": to, "size": file.stat().st_size})
    return render(request, "dev/mail_list.html", {"rows": rows, "enabled": folder is not None, "folder": folder})


@staff_member_required
def mail_detail(request: HttpRequest, name: str) -> HttpResponse:
    folder = _mail_dir()
    if folder is None or "/" in name or not name.endswith(".log"):
        raise Http404
    path = folder / name
    if not path.is_file():
        raise Http404
    return render(request, "dev/mail_detail.html", {"name": name, "content": path.read_text(errors="replace")})
