"""The notices benchmark's email backend: builds each message as an SMTP backend would (the MIME
text, `message.message()`), then, instead of talking to a server, appends one line per message
(subject, recipients and Message-ID, tab-separated) to the file named by BENCH_MAIL_LOG. The
benchmark counts those lines per notice (and per Message-ID, after a fault) to prove none went
twice; the cost measured is ours, not an SMTP server's.

One `os.write` of a short line to a file opened with O_APPEND is atomic, so the worker's
processes can share the file."""

from __future__ import annotations

import os
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend

_fds: dict[int, int] = {}  # pid -> descriptor: each worker process opens its own, after the fork


def _fd() -> int:
    pid = os.getpid()
    if pid not in _fds:
        _fds[pid] = os.open(os.environ["BENCH_MAIL_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return _fds[pid]


class CountingBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        count = 0
        for message in email_messages:
            mime = message.message()
            mime.as_bytes()  # the MIME rendering an SMTP backend does
            line = f"{message.subject}\t{','.join(message.recipients())}\t{mime['Message-ID']}\n".encode()
            os.write(_fd(), line)
            count += 1
        return count
