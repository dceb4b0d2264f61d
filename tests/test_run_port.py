"""`make run PORT=8123`: the web server listens there, the banner says so, and every process
(the worker builds the emails) links to it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _local_env(**extra: str) -> dict[str, str]:
    dropped = {"DJANGO_SETTINGS_MODULE", "SITE_URL", "PORT", "KEEPWARM_PORT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings.local", **extra}


def _site_url(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_passes_the_port_to_honcho_and_the_banner():
    result = subprocess.run(["make", "-n", "run", "PORT=8123"], cwd=BASE_DIR, capture_output=True, text=True,
                            timeout=60, check=True)
    assert "Keepwarm: http://127.0.0.1:8123" in result.stdout
    assert "http://127.0.0.1:8123/dev/mail/" in result.stdout
    honcho = next(line for line in result.stdout.splitlines() if "honcho start" in line)
    assert "KEEPWARM_PORT=8123" in honcho and "-p 8123" in honcho


def test_links_in_emails_follow_the_port_in_every_process():
    assert _site_url(_local_env()) == "http://127.0.0.1:8000"
    # honcho gives the worker web's port + 100 as $PORT; the Makefile's KEEPWARM_PORT wins.
    assert _site_url(_local_env(KEEPWARM_PORT="8123", PORT="8223")) == "http://127.0.0.1:8123"
    assert _site_url(_local_env(PORT="8123")) == "http://127.0.0.1:8123"
    assert _site_url(_local_env(KEEPWARM_PORT="8123", SITE_URL="https://crm.example")) == "https://crm.example"


def test_the_procfiles_web_server_listens_on_the_port_honcho_gives_it(tmp_path):
    port = _free_port()
    env = _local_env(KEEPWARM_PORT=str(port), PATH=f"{BIN}:{os.environ['PATH']}",
                     DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    process = subprocess.Popen(
        [str(BIN / "honcho"), "start", "-f", "Procfile", "-p", str(port), "web"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                assert time.monotonic() < deadline, "the web server did not answer on the port in 30 s"
                time.sleep(0.3)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
