"""A real Celery worker process, on Redis and the test database, runs what a service enqueues
once its transaction commits (reliability.md 19, 24): the ownership notice of a reassignment.
With a real beat next to it, a touchpoint coming due is reminded within a minute, once (the
outbox end to end: beat's tick, the dispatcher's claim, the send it queues).

The worker is a separate process, so it needs PostgreSQL (SQLite's test database lives in this
process's memory) and a Redis broker; without them the test is skipped and says why. CI has both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_string
from email.message import Message
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.celery_app import app
from crm.models import OwnershipChange
from flows import actions as flows
from outbox.tasks import dispatch_notices

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


def _settings_module(tmp_path: Path, queue: str) -> str:
    """A settings module for the worker and beat processes: the development settings (the real
    beat schedule included) with this test's queue as the default one, so that what they enqueue
    (beat's ticks, the dispatcher's sends) stays on it and no other worker on this Redis (a
    `make run`) takes it."""
    name = "keepwarm_test_" + queue.replace("-", "_")
    (tmp_path / f"{name}.py").write_text(
        f"from config.settings.local import *  # noqa: F403\nCELERY_TASK_DEFAULT_QUEUE = {queue!r}\n"
    )
    return name


def _process_env(tmp_path: Path, queue: str, mail_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE=_settings_module(tmp_path, queue),
        PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")])),
        DATABASE_URL=_database_url(),
        REDIS_URL=settings.REDIS_URL,
        EMAIL_URL=f"filemail:///{mail_dir}",  # django-environ drops one leading slash
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as log_file:
        # A session of its own: the stop below can take down anything it forks.
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args], cwd=settings.BASE_DIR, env=env,
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """A warm shutdown (SIGTERM), then SIGKILL to the whole process group if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # children a dead leader may have left
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(timeout=10)


def _worker_args(queue: str) -> list[str]:
    return [
        "worker", "--pool=solo", "--concurrency=1", "--loglevel=info", "--queues", queue,
        "--hostname", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    queue: str
    mail_dir: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


@contextmanager
def _this_process_sends_to(queue: str) -> Iterator[None]:
    """This process sends tasks to Redis, on `queue`, instead of running them in-process."""
    saved = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = saved


def _forget(queue: str) -> None:
    import redis

    redis.Redis.from_url(settings.REDIS_URL).delete(queue)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    reason = _why_not_runnable()
    if reason:
        pytest.skip(reason)
    # A queue of its own, so no other worker on this Redis (a `make run`) takes the task.
    queue = f"keepwarm-test-{uuid.uuid4().hex[:12]}"
    mail_dir = tmp_path / "mail"
    log = tmp_path / "worker.log"
    process = _start(_worker_args(queue), _process_env(tmp_path, queue, mail_dir), log)
    try:
        with _this_process_sends_to(queue):
            yield Worker(process=process, queue=queue, mail_dir=mail_dir, log=log)
    finally:
        # Stop the worker before pytest-django drops the test database it is connected to.
        _stop(process)
        _forget(queue)


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
        change = flows.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Call Alice first")
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
        flows.account_reassign(account=account, to_user=rep2, by=salesmgr)
        raise Abort

    time.sleep(1)
    assert _queued(worker.queue) == 0
    assert not OwnershipChange.objects.filter(account=account, to_user=rep2).exists()
    assert not worker.mail_dir.exists() or not list(worker.mail_dir.glob("*.log"))


# --- Beat, a worker and the outbox, end to end ---------------------------------------------------

BEAT_TIMEOUT = 60  # the spec: a touchpoint coming due is reminded within a minute, end to end
DISPATCH_ENTRY = "crm-dispatch-notices"


def _schedule_ticking_now(path: Path) -> None:
    """Beat's schedule file as a beat that has been running leaves it, with the dispatcher's last
    run one interval ago, so its next tick is at start-up.

    A fresh file would not do: beat stamps every new entry "last run now", so its first tick of a
    one-minute entry comes a minute after start-up (celery 5.7, measured)."""
    from celery.beat import PersistentScheduler

    scheduler = PersistentScheduler(app=app, schedule_filename=str(path))  # the settings' CELERY_BEAT_SCHEDULE
    try:
        entry = scheduler.schedule[DISPATCH_ENTRY]
        entry.last_run_at = entry.default_now() - entry.schedule.run_every
        scheduler.sync()
    finally:
        scheduler.close()


def _emails(mail_dir: Path) -> list[Message]:
    """Every message the file backend wrote (one file per connection, messages separated by a
    line of 79 dashes)."""
    messages = []
    for path in sorted(mail_dir.glob("*.log")) if mail_dir.exists() else []:
        for chunk in path.read_text().split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                messages.append(message_from_string(chunk.strip("\n")))
    return messages


def _runs(log: Path, task: str) -> int:
    return sum(f"Task {task}[" in line and " succeeded " in line for line in log.read_text(errors="replace").splitlines())


def test_beat_and_a_worker_remind_a_touchpoint_coming_due_within_a_minute_once(
    tmp_path, account, deal, rep, salesmgr, deliverymgr, delivery
):
    reason = _why_not_runnable()
    if reason:
        pytest.skip(reason)
    from outbox.models import Notice
    from tests.scenarios import accept_deal
    from touchpoints.agendas import create_default_agendas
    from touchpoints.models import AgendaStep, AgendaTemplate, Touchpoint

    create_default_agendas(AgendaTemplate, AgendaStep)  # the flush of transactional tests removed them
    accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    checkup = Touchpoint.objects.get(account=account, kind="checkup_call")  # day 7, owned by `delivery`
    reminder = Notice.objects.get(key=f"touchpoints.reminder:{checkup.pk}:{checkup.version}")
    assert reminder.state == Notice.State.PENDING and reminder.due_at > timezone.now() + timedelta(days=5)

    queue = f"keepwarm-test-{uuid.uuid4().hex[:12]}"
    mail_dir = tmp_path / "mail"
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    schedule = tmp_path / "celerybeat-schedule"
    env = _process_env(tmp_path, queue, mail_dir)
    subject = f"Due now: {checkup.title} with {account.name}"
    processes = []
    try:
        # The check-up comes due: nothing but beat's dispatcher will notice (no task is queued).
        due_at = timezone.now()
        Notice.objects.filter(pk=reminder.pk).update(due_at=due_at)
        came_due = time.monotonic()
        _schedule_ticking_now(schedule)
        processes.append(_start(_worker_args(queue), env, worker_log))
        processes.append(_start(["beat", "--loglevel=info", "--schedule", str(schedule)], env, beat_log))

        def ours() -> list[Message]:
            return [m for m in _emails(mail_dir) if m["Subject"] == subject]

        def logs() -> str:
            beat_out, worker_out = (log.read_text(errors="replace") for log in (beat_log, worker_log))
            return f"beat:\n{beat_out[-3000:]}\nworker:\n{worker_out[-5000:]}"

        def delivered() -> bool:
            # The email is written before the send's transaction commits and the task logs.
            return bool(ours()) and _runs(worker_log, "crm.tasks.deliver_notices") >= 1 and (
                Notice.objects.filter(pk=reminder.pk, state=Notice.State.SENT).exists()
            )

        while not delivered():
            if time.monotonic() - came_due > BEAT_TIMEOUT:
                pytest.fail(f"no reminder within {BEAT_TIMEOUT}s of the touchpoint coming due:\n{logs()}")
            for process in processes:
                if process.poll() is not None:
                    pytest.fail(f"a celery process exited with {process.returncode}:\n{logs()}")
            time.sleep(0.3)
        assert time.monotonic() - came_due < BEAT_TIMEOUT

        # Beat woke the dispatcher; the worker ran it and then the send it queued.
        assert f"Sending due task {DISPATCH_ENTRY} (crm.tasks.dispatch_notices)" in beat_log.read_text(), logs()
        reminder.refresh_from_db()
        assert (reminder.state, reminder.attempts, reminder.recipients) == (Notice.State.SENT, 1, [delivery.email])
        assert reminder.sent_at is not None and reminder.sent_at - due_at < timedelta(seconds=BEAT_TIMEOUT)

        # Beat's next tick (sent by hand: the real one is a minute away) sends nothing again.
        with _this_process_sends_to(queue):
            dispatch_notices.delay()
        deadline = time.monotonic() + WORKER_TIMEOUT
        while _runs(worker_log, "crm.tasks.dispatch_notices") < 2:
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not run the second dispatch:\n{logs()}")
            time.sleep(0.3)
        time.sleep(1)  # anything that dispatch queued has had time to run
        sent = ours()
        assert len(sent) == 1, logs()
        assert sent[0]["To"] == delivery.email
        assert "Record the outcome: http" in sent[0].get_payload()
        reminder.refresh_from_db()
        assert (reminder.state, reminder.attempts) == (Notice.State.SENT, 1)
    finally:
        # Beat first (it enqueues), then the worker, before pytest-django drops the database.
        for process in reversed(processes):
            _stop(process)
        _forget(queue)
    assert all(process.poll() is not None for process in processes)
