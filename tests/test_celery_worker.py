"""A real Celery worker process, on Redis and the test database, runs what a service enqueues
once its transaction commits (reliability.md 19, 24): the ownership notice of a reassignment.

The worker is a separate process, so it needs PostgreSQL (SQLite's test database lives in this
process's memory) and a Redis broker; without them the test is skipped and says why. CI has both.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, transaction

from config.celery_app import app
from crm import services
from crm.models import OwnershipChange

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WORKER_TIMEOUT = 60  # seconds for the worker to start and run the task


def _why_not_runnable() -> str | None:
    if connection.vendor != "postgresql":
        return "needs PostgreSQL so a worker process can share the test database: set DATABASE_URL (CI does)"
    if not settings.REDIS_URL:
        return "needs a Redis broker: set REDIS_URL=redis://127.0.0.1:6379/0 (CI does)"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {settings.REDIS_URL} does not answer ({exc})"
    return None


def _database_url() -> str:
    """The test database (pytest-django renamed it test_...) as a URL for the worker."""
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    queue: str
    mail_dir: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]




@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    reason = _why_not_runnable()
    if reason:
        pytest.skip(reason)
    # A queue of its own, so no other worker on this Redis (a `make run`) takes the task.
    queue = f"keepwarm-test-{uuid.uuid4().hex[:12]}"
    mail_dir = tmp_path / "mail"
    log = tmp_path / "worker.log"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=_database_url(),
        REDIS_URL=settings.REDIS_URL,
        EMAIL_URL=f"filemail:///{mail_dir}",  # django-environ drops one leading slash
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
        "--loglevel=info", "--queues", queue, "--hostname", f"{queue}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    saved = app.conf.task_always_eager, app.conf.task_default_queue
    # This process now sends to Redis instead of running tasks in-process.
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        yield Worker(process=process, queue=queue, mail_dir=mail_dir, log=log)
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = saved
        # Stop the worker before pytest-django drops the test database it is connected to.
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        import redis

        redis.Redis.from_url(settings.REDIS_URL).delete(queue)


def _queued(queue: str) -> int:
    import redis

    return int(redis.Redis.from_url(settings.REDIS_URL).llen(queue))


def _wait_until_notified(change: OwnershipChange, worker: Worker) -> None:
    deadline = time.monotonic() + WORKER_TIMEOUT
    while time.monotonic() < deadline:
        change.refresh_from_db()
        if change.notified_at is not None:
            return
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited with {worker.process.returncode}:\n{worker.output()}")
        time.sleep(0.3)
    pytest.fail(f"the worker did not run the task within {WORKER_TIMEOUT}s:\n{worker.output()}")


def test_a_real_worker_emails_the_new_owner_once_the_reassignment_commits(worker, account, rep2, salesmgr):
    with transaction.atomic():
        change = services.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Call Alice first")
        # Inside the transaction nothing has reached the broker: the worker could not even
        # see the ledger row yet.
        time.sleep(0.5)
        assert _queued(worker.queue) == 0

    _wait_until_notified(change, worker)

    emails = list(worker.mail_dir.glob("*.log"))
    assert len(emails) == 1, worker.output()
    message = emails[0].read_text()
    assert "To: rep2@vendor.example" in message
    assert "You now own Acme Robotics" in message
    assert "Handover note: Call Alice first" in message
    assert "send_ownership_notice" in worker.output() and "succeeded" in worker.output()


def test_a_rolled_back_reassignment_enqueues_nothing(worker, account, rep2, salesmgr):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        services.account_reassign(account=account, to_user=rep2, by=salesmgr)
        raise Abort

    time.sleep(1)
    assert _queued(worker.queue) == 0
    assert not OwnershipChange.objects.filter(account=account, to_user=rep2).exists()
    assert not worker.mail_dir.exists() or not list(worker.mail_dir.glob("*.log"))
