"""A real worker killed mid-run (issue 18; reliability.md 21): `kill -9` of its whole process
group (the main process and its prefork children) while it sends a few hundred due notices; a new
worker is started and beat's sweep runs every 15 seconds, as deployed. Every notice is sent
within about a minute of the kill (its lease runs out, the sweep claims it again), none is lost,
and an email goes twice only if it was written and not yet marked sent when the worker died: at
most one per pool process. Duplicates are counted by Message-ID, as a receiver would drop them.
One pool process killed: its task is delivered again at once and takes its rows back, lease or
not.

Needs PostgreSQL and Redis (the worker is another process), like test_celery_worker.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from outbox import notices
from outbox.models import Notice
from tests.test_celery_worker import (
    _emails,
    _forget,
    _process_env,
    _start,
    _stop,
    _this_process_sends_to,
    _why_not_runnable,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

KIND = "test.lease_worker"
COUNT = 300
CONCURRENCY = 2
RECOVERY = 90  # seconds from the kill to every notice sent: lease 45 s + a 15 s sweep + sending
SWEEP_EVERY = 15  # beat's schedule ("outbox-reclaim-notices")
# A module the workers import (--include): this test's kind, whose builder takes 40 ms, so that
# the kill lands mid-run and two chunks are in flight.
BUILDER = f'''
import time
from django.core.mail import EmailMessage
from outbox import notices

@notices.register({KIND!r})
def build(notice):
    time.sleep(0.04)
    return [EmailMessage(subject="Lease " + notice.key, body="-", to=["ops@vendor.example"])]
'''


def _worker(env: dict[str, str], queue: str, log: Path, name: str) -> subprocess.Popen[bytes]:
    process = _start(
        ["worker", "--pool=prefork", f"--concurrency={CONCURRENCY}", "--loglevel=info", "--queues", queue,
         "--hostname", f"{name}-{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--include", "keepwarm_lease_kind"],
        env, log,
    )
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"the worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return process


def _forget_unacked(queue: str) -> None:
    """The killed worker's unacknowledged messages (kombu keeps them in Redis for an hour)."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    for tag, raw in client.hgetall("unacked").items():
        if queue in json.loads(raw)[2:]:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:  # before pytest-django drops the database they use
        _stop(process)


def test_a_worker_killed_mid_run_loses_nothing_and_its_notices_go_within_a_minute(tmp_path, processes):
    reason = _why_not_runnable()
    if reason:
        pytest.skip(reason)
    queue = f"keepwarm-test-{uuid.uuid4().hex[:12]}"
    (tmp_path / "keepwarm_lease_kind.py").write_text(BUILDER)
    mail_dir = tmp_path / "mail"
    env = _process_env(tmp_path, queue, mail_dir)
    due = timezone.now() - timedelta(minutes=1)
    Notice.objects.bulk_create(
        Notice(kind=KIND, key=f"{KIND}:{i}", target=f"test.lease:{i}", due_at=due) for i in range(COUNT)
    )
    owed = Notice.objects.filter(kind=KIND)
    first = _worker(env, queue, tmp_path / "worker-1.log", "first")
    processes.append(first)
    try:
        with _this_process_sends_to(queue):
            claimed = notices.dispatch()  # beat's tick, here: claims all and queues 3 chunks
        assert claimed == COUNT

        deadline = time.monotonic() + 60
        while owed.filter(state=Notice.State.SENT).count() < COUNT // 5:
            assert time.monotonic() < deadline, (tmp_path / "worker-1.log").read_text(errors="replace")[-3000:]
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)  # the whole worker: main process and children
        killed = time.monotonic()
        first.wait(timeout=10)
        sent_at_kill = owed.filter(state=Notice.State.SENT).count()
        held = owed.filter(state=Notice.State.CLAIMED).exclude(claimed_by="").count()
        assert 0 < sent_at_kill < COUNT and held > 0  # mid-run: chunks were in flight

        processes.append(_worker(env, queue, tmp_path / "worker-2.log", "second"))
        next_sweep = time.monotonic()
        while owed.filter(state=Notice.State.SENT).count() < COUNT:
            assert time.monotonic() - killed < RECOVERY + 30, Counter(owed.values_list("state", flat=True))
            if time.monotonic() >= next_sweep:
                with _this_process_sends_to(queue):
                    from outbox.tasks import reclaim_notices

                    reclaim_notices.delay()  # beat's sweep
                next_sweep += SWEEP_EVERY
            time.sleep(0.2)
        recovered = time.monotonic() - killed
        time.sleep(1)  # a duplicate send still running has time to show
    finally:
        _forget(queue)
        _forget_unacked(queue)

    duplicated = sum(n - 1 for n in Counter(m["Message-ID"] for m in _emails(mail_dir)).values())
    print(f"killed with {sent_at_kill} of {COUNT} sent and {held} held; all sent {recovered:.1f}s after; {duplicated} twice")
    assert recovered < RECOVERY, f"all sent {recovered:.0f}s after the kill"
    per_id = Counter(message["Message-ID"] for message in _emails(mail_dir))
    keys = Counter(message["Subject"].removeprefix("Lease ") for message in _emails(mail_dir))
    assert set(keys) == {f"{KIND}:{i}" for i in range(COUNT)}  # none lost
    duplicated = sum(n - 1 for n in per_id.values())
    assert duplicated == sum(n - 1 for n in keys.values())  # one Message-ID per notice, every time
    assert duplicated <= CONCURRENCY, per_id.most_common(5)  # at most the sends in flight
    assert set(owed.values_list("state", flat=True)) == {Notice.State.SENT}
    assert owed.filter(attempts__gt=1).count() == 0  # a killed attempt is not counted: it never committed


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_a_pool_process_killed_mid_chunk_is_replaced_and_its_chunk_goes_at_once(tmp_path, processes):
    """One prefork child killed: Celery delivers its task again at once (reject on worker lost),
    and the new run takes back the rows the dead one held, well before their lease runs out."""
    reason = _why_not_runnable()
    if reason:
        pytest.skip(reason)
    queue = f"keepwarm-test-{uuid.uuid4().hex[:12]}"
    (tmp_path / "keepwarm_lease_kind.py").write_text(BUILDER)
    mail_dir = tmp_path / "mail"
    env = _process_env(tmp_path, queue, mail_dir)
    due = timezone.now() - timedelta(minutes=1)
    Notice.objects.bulk_create(
        Notice(kind=KIND, key=f"{KIND}:{i}", target=f"test.lease:{i}", due_at=due) for i in range(COUNT)
    )
    owed = Notice.objects.filter(kind=KIND)
    worker = _worker(env, queue, tmp_path / "worker.log", "only")
    processes.append(worker)
    try:
        with _this_process_sends_to(queue):
            assert notices.dispatch() == COUNT
        deadline = time.monotonic() + 60
        while owed.filter(state=Notice.State.SENT).count() < COUNT // 5:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
            time.sleep(0.05)
        os.kill(_children(worker.pid)[0], signal.SIGKILL)
        killed = time.monotonic()
        # No sweep runs here: only the task delivered again can send the dead child's rows in time.
        while owed.filter(state=Notice.State.SENT).count() < COUNT:
            assert time.monotonic() - killed < notices.LEASE.total_seconds() - 5, (
                Counter(owed.values_list("state", flat=True)), (tmp_path / "worker.log").read_text()[-3000:]
            )
            assert worker.poll() is None
            time.sleep(0.2)
        recovered = time.monotonic() - killed
        time.sleep(1)
    finally:
        _forget(queue)
        _forget_unacked(queue)

    per_id = Counter(message["Message-ID"] for message in _emails(mail_dir))
    print(f"one child killed; all sent {recovered:.1f}s after; {sum(n - 1 for n in per_id.values())} twice")
    assert len(per_id) == COUNT  # none lost
    assert sum(n - 1 for n in per_id.values()) <= 1  # at most the dead child's send in flight
    assert set(owed.values_list("state", flat=True)) == {Notice.State.SENT}
