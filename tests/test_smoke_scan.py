"""The smoke run's log scan (scripts/smoke.py scan) fails on what it promises to catch: a
traceback, a 5xx answer, any token seen during the walk; and passes clean logs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from django.conf import settings

TOKEN = "Zq3_secret-token-value-0123456789abcdefghij"
CLEAN = (
    '127.0.0.1 - - [03/Dec/2026:18:17:51 +0000] "GET /c/portal/open/[redacted]/ HTTP/1.1" 302 0 "-" "urllib"\n'
    '127.0.0.1 - - [03/Dec/2026:18:17:52 +0000] "GET /c/portal/1/ HTTP/1.1" 200 5120 "-" "urllib"\n'
)


@pytest.fixture
def smoke():
    spec = importlib.util.spec_from_file_location("smoke", Path(settings.BASE_DIR) / "scripts" / "smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scan(smoke, tmp_path, monkeypatch, text: str) -> None:
    (tmp_path / "secrets.txt").write_text(f"{TOKEN}\n")
    monkeypatch.setenv("SMOKE_SECRETS", str(tmp_path / "secrets.txt"))
    (tmp_path / "web.log").write_text(text)
    smoke.scan([str(tmp_path / "web.log")])


def test_clean_logs_pass(smoke, tmp_path, monkeypatch):
    _scan(smoke, tmp_path, monkeypatch, CLEAN)


@pytest.mark.parametrize("extra", [
    f'127.0.0.1 - - [x] "GET /c/portal/open/{TOKEN}/ HTTP/1.1" 302 0 "-" "urllib"\n',
    '127.0.0.1 - - [x] "GET /accounts/ HTTP/1.1" 500 145 "-" "urllib"\n',
    'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom\n',
])
def test_a_token_a_5xx_or_a_traceback_fails_the_run(smoke, tmp_path, monkeypatch, extra):
    with pytest.raises(SystemExit) as failed:
        _scan(smoke, tmp_path, monkeypatch, CLEAN + extra)
    assert failed.value.code == 1
