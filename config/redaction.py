"""No customer or calendar token in any log.

A token in a URL is the credential itself (a sign-off, survey or portal link, a private calendar
feed, a password reset), and every server writes the URL it served: runserver through the
`django.server` logger, Django's warnings ("Not Found: /c/...") through `django.request`,
gunicorn through its access log. `redact` rewrites such URLs to keep their shape and drop the
token; `RedactTokensFilter` applies it to every record a handler or logger emits (LOGGING in
config.settings.base), and `GunicornLogger` to gunicorn's access and error logs
(`--logger-class config.redaction.GunicornLogger`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn import glogging

REDACTED = "[redacted]"

# One entry per URL pattern that carries a token (tests/test_log_redaction.py walks the URLconf
# and fails for a token route this list misses). Group 1 is kept, the token is replaced.
_TOKEN_IN_URL = [
    # /c/signoff/open/<token>/, /c/survey/open/<token>/, /c/portal/open/<token>/
    re.compile(r"(/c/[\w-]+/open/)(?!\[redacted\])[^/?#\s\"']+"),
    # /calendar/<token>.ics (the private feed; /calendar/ itself is the settings page)
    re.compile(r"(/calendar/)(?!\[redacted\])[^/?#\s\"']+(?=\.ics)"),
    # Django's password reset: /reset/<uidb64>/<token>/ (it moves the token to the session too)
    re.compile(r"(/reset/[\w-]+/)(?!set-password|\[redacted\])[^/?#\s\"']+"),
    # A token in a query string, should anything ever put one there.
    re.compile(r"([?&](?:token|key|signature)=)(?!\[redacted\])[^&#\s\"']+", re.IGNORECASE),
]


def redact(text: str) -> str:
    """`text` with every token in a URL replaced by [redacted]."""
    for pattern in _TOKEN_IN_URL:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactTokensFilter(logging.Filter):
    """Rewrites a record's message (and its traceback) without tokens; never drops a record.

    The message is formatted here, once, with its arguments: a token may sit in the request line
    runserver passes as an argument as much as in the format string."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's own error to report, not ours
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with the token filter on its access and error logs."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactTokensFilter) for f in log.filters):
                log.addFilter(RedactTokensFilter())
