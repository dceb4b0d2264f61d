"""The notices benchmark (`make bench-notices`, part of `make bench`): 10,000 touchpoints come due
at once; one real Celery worker on Redis sends every reminder; how long, and none twice?

bench/notices.sh prepares the database (its own, seeded with bench accounts and their owners)
and runs this. Here:

1. the outbox and the touchpoints of an earlier run are emptied; N touchpoints (5 per bench
   account, owned by the account's owner, with its primary contact) are bulk-created due now,
   with the notices the touchpoint service owes for each (the reminder, due now, and the missed
   escalation, due in 48 hours); today's digests are marked sent, as if the morning's had gone
   out, so that the run measures the reminders whatever the hour;
2. one worker is started (`celery -A config worker`, the production command: prefork,
   concurrency 2 unless --concurrency says otherwise), emails counted by bench/mail.py;
3. the dispatcher runs once, as beat's tick does: `crm.tasks.dispatch_notices` (outbox.tasks) is sent to the
   worker, which claims the due notices and queues their sends in chunks;
4. it waits until every reminder is sent, then checks each reminder went exactly once (emails
   per notice key, from the mail log) and in one attempt.

Prints a markdown report and writes it to bench/results/notices.md (raw figures in notices.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUEUE = f"keepwarm-bench-notices-{os.getpid()}"
os.environ["BENCH_QUEUE"] = QUEUE
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.notices_settings")
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
PER_ACCOUNT = 5
TARGET_SECONDS = 60.0

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.models import Account, Contact  # noqa: E402
from outbox import notices  # noqa: E402
from outbox.models import Notice  # noqa: E402
from touchpoints.models import Channel, Kind, Touchpoint  # noqa: E402

REMINDER = "touchpoints.reminder"


def log(message: str) -> None:
    print(f"[bench-notices] {message}", file=sys.stderr, flush=True)


# --- 1. The data --------------------------------------------------------------------------------


def seed(count: int) -> dict[str, Any]:
    """Creates `count` touchpoints due now, with what the service owes for each; returns the
    reminder keys by email subject (the subjects are unique: each title carries a number)."""
    accounts = list(
        Account.objects.filter(owner__username__startswith="bench_owner_", owner__email__gt="")
        .select_related("owner").order_by("pk")[: -(-count // PER_ACCOUNT)]
    )
    if len(accounts) * PER_ACCOUNT < count:
        raise SystemExit(f"The database holds {len(accounts)} bench accounts; {-(-count // PER_ACCOUNT)} needed "
                         "(bench/notices.sh seeds them).")
    primary = dict(
        Contact.objects.filter(account__in=accounts, is_primary=True, is_active=True).values_list("account_id", "pk")
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # This database is the benchmark's own: start from an empty outbox and no touchpoints.
        cursor.execute(f"TRUNCATE {Notice._meta.db_table}, {Touchpoint._meta.db_table} CASCADE")
    due = timezone.now().replace(microsecond=0)
    grace = timedelta(hours=settings.KEEPWARM["TOUCHPOINT_GRACE_HOURS"])
    subjects: dict[str, str] = {}
    for start in range(0, count, 2000):
        with transaction.atomic():
            numbers = range(start, min(count, start + 2000))
            touchpoints = Touchpoint.objects.bulk_create(
                Touchpoint(
                    account=accounts[i // PER_ACCOUNT], owner=accounts[i // PER_ACCOUNT].owner,
                    contact_id=primary.get(accounts[i // PER_ACCOUNT].pk), kind=Kind.CHECKUP_CALL,
                    title=f"Bench check-up {i + 1:05d}", objectives="Ask how the first week went.",
                    channel=Channel.PHONE, due_at=due,
                )
                for i in numbers
            )
            rows = []
            for i, touchpoint in zip(numbers, touchpoints, strict=True):
                target = f"{Touchpoint._meta.label_lower}:{touchpoint.pk}"
                key = f"{REMINDER}:{touchpoint.pk}:{touchpoint.version}"
                missed = f"touchpoints.missed:{touchpoint.pk}:{touchpoint.version}"
                rows.append(Notice(kind=REMINDER, key=key, target=target, due_at=due))
                rows.append(Notice(kind="touchpoints.missed", key=missed, target=target, due_at=due + grace))
                subjects[f"Due now: {touchpoint.title} with {accounts[i // PER_ACCOUNT].name}"] = key
            Notice.objects.bulk_create(rows)
    # Today's digests went out this morning (the producer owes none in this tick, at any hour).
    owners = get_user_model().objects.filter(pk__in={a.owner_id for a in accounts}).select_related("profile")
    digests = []
    for owner in owners:
        zone = zoneinfo.ZoneInfo(getattr(getattr(owner, "profile", None), "time_zone", "UTC") or "UTC")
        day = timezone.now().astimezone(zone).date().isoformat()
        digests.append(Notice(kind="touchpoints.digest", key=f"touchpoints.digest:{owner.pk}:{day}",
                              target=f"auth.user:{owner.pk}", due_at=due, state=Notice.State.SENT, sent_at=due,
                              attempts=1, data={"user": owner.pk, "date": day}))
    Notice.objects.bulk_create(digests)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Notice._meta.db_table}")
        cursor.execute(f"ANALYZE {Touchpoint._meta.db_table}")
    seconds = time.perf_counter() - started
    log(f"seeded {count} touchpoints and {2 * count} notices in {seconds:.1f}s")
    return {"subjects": subjects, "seed_s": seconds, "accounts": len(accounts), "owners": len(digests)}


# --- 2. The worker ------------------------------------------------------------------------------


class Worker:
    def __init__(self, *, pool: str, concurrency: int, mail_log: Path, log_path: Path) -> None:
        self.log_path = log_path
        env = {**os.environ, "BENCH_MAIL_LOG": str(mail_log), "BENCH_QUEUE": QUEUE,
               "CELERY_TASK_ALWAYS_EAGER": "false"}
        command = [PYTHON, "-m", "celery", "-A", "config", "worker", "--loglevel=info", f"--pool={pool}",
                   f"--concurrency={concurrency}", "--queues", QUEUE, "--hostname", f"{QUEUE}@%h",
                   "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log_path.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + 60
        while " ready." not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"The worker did not start:\n{self.output()[-3000:]}")
            time.sleep(0.2)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


# --- 3 and 4. The tick, the wait, the check -----------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """CPU used so far by a process and its descendants still running, from /proc."""
    proc = Path(f"/proc/{pid}/task/{pid}")
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        children = [int(child) for child in (proc / "children").read_text().split()]
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return own + sum(_cpu_seconds(child) for child in children)


def _backend_cpu_seconds() -> float:
    """CPU used so far by this process's PostgreSQL backend, from /proc (0 if PostgreSQL runs
    elsewhere)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return _cpu_seconds(cursor.fetchone()[0])


def probe(count: int, mail_log: Path) -> dict[str, float]:
    """Where one notice's cost goes, without Celery and whatever else the machine runs: `count`
    reminders of the run are claimed again and sent in this process (to another mail log), with
    the Python CPU, the CPU of this process's PostgreSQL backend, and the queries per notice."""
    from django.test.utils import CaptureQueriesContext

    os.environ["BENCH_MAIL_LOG"] = str(mail_log)
    ids = list(Notice.objects.filter(kind=REMINDER).order_by("pk").values_list("pk", flat=True)[: count + 1])
    Notice.objects.filter(pk__in=ids).update(state=Notice.State.CLAIMED, claimed_at=timezone.now(), sent_at=None)
    notices.deliver(ids[0])  # warm: templates, URL resolver
    backend, cpu, wall = _backend_cpu_seconds(), time.process_time(), time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        states = Counter(notices.deliver(pk) for pk in ids[1:])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    backend = _backend_cpu_seconds() - backend
    if states != {Notice.State.SENT: count}:
        raise SystemExit(f"The in-process probe did not send every notice: {states}")
    return {"wall_ms": 1000 * wall / count, "python_cpu_ms": 1000 * cpu / count,
            "database_cpu_ms": 1000 * backend / count, "queries": len(queries.captured_queries) / count}


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = seed(args.touchpoints)
    workdir = Path(tempfile.mkdtemp(prefix="keepwarm-bench-notices-"))
    mail_log = workdir / "mail.log"
    mail_log.touch()
    worker = Worker(pool=args.pool, concurrency=args.concurrency, mail_log=mail_log, log_path=workdir / "worker.log")
    from config.celery_app import app

    reminders = Notice.objects.filter(kind=REMINDER)
    worker_cpu_before = _cpu_seconds(worker.process.pid)  # after its start-up
    try:
        started_at = timezone.now()
        started = time.perf_counter()
        app.send_task("crm.tasks.dispatch_notices", queue=QUEUE)  # beat's tick
        while True:
            time.sleep(0.25)
            states = dict(reminders.values_list("state").annotate(n=Count("pk")).order_by())
            waited = time.perf_counter() - started
            if states.get(Notice.State.SENT, 0) + states.get(Notice.State.FAILED, 0) >= args.touchpoints:
                break
            if worker.process.poll() is not None:
                raise SystemExit(f"The worker died:\n{worker.output()[-3000:]}")
            if waited > args.timeout:
                log(f"gave up after {args.timeout}s: {states}")
                break
        polled_s = time.perf_counter() - started
        time.sleep(2)  # anything still queued (a duplicate send) has time to show in the log
        worker_cpu = _cpu_seconds(worker.process.pid) - worker_cpu_before
    finally:
        worker.stop()
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)
    output = worker.output()
    sent = reminders.filter(state=Notice.State.SENT)
    first, last = (sent.order_by(f).values_list("sent_at", flat=True).first() for f in ("sent_at", "-sent_at"))
    lines = [line.split("\t", 1)[0] for line in mail_log.read_text().splitlines()]
    per_key = Counter(data["subjects"].get(subject, f"(not a reminder) {subject}") for subject in lines)
    dispatch = re.search(r"Task crm\.tasks\.dispatch_notices\[[^]]+\] succeeded in ([\d.]+)s: (\d+)", output)
    all_s = (last - started_at).total_seconds() if last else None
    result = {
        "touchpoints": args.touchpoints,
        "probe_count": args.probe,
        "accounts": data["accounts"],
        "owners": data["owners"],
        "seed_s": round(data["seed_s"], 2),
        "pool": args.pool,
        "concurrency": args.concurrency,
        "chunk": notices.CHUNK,
        "dispatch_s": round(float(dispatch.group(1)), 2) if dispatch else None,
        "claimed": int(dispatch.group(2)) if dispatch else None,
        "first_sent_s": round((first - started_at).total_seconds(), 2) if first else None,
        "all_sent_s": round(all_s, 2) if all_s is not None else None,
        "polled_s": round(polled_s, 2),
        "rate_per_s": round(sent.count() / all_s, 1) if all_s else None,
        "sent": sent.count(),
        "failed": reminders.filter(state=Notice.State.FAILED).count(),
        "not_sent": reminders.exclude(state=Notice.State.SENT).count(),
        "attempts_over_1": sent.filter(attempts__gt=1).count(),
        "emails": len(lines),
        "reminder_keys_emailed": sum(1 for key in per_key if key.startswith(REMINDER)),
        "sent_twice": sorted(key for key, n in per_key.items() if n > 1)[:20],
        "other_emails": sorted(key for key in per_key if not key.startswith(REMINDER))[:20],
        "deliver_tasks": len(re.findall(r"Task crm\.tasks\.deliver_notices\[[^]]+\] succeeded", output)),
        # CPU seconds of the worker and its pool processes, whatever else the machine runs. Its
        # PostgreSQL backends cannot be measured the same way: Celery's Django fixup closes the
        # connections after every task, so they are gone by now (the probe measures one).
        "worker_cpu_s": round(worker_cpu, 1),
        "worker_errors": [line for line in output.splitlines() if "ERROR" in line or "Traceback" in line][:10],
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": os.getloadavg(),
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "workdir": str(workdir),
    }
    # Last: it sends some reminders a second time, on purpose and to another log.
    result["probe"] = {k: round(v, 2) for k, v in probe(args.probe, workdir / "probe-mail.log").items()}
    return result


def report(r: dict[str, Any]) -> str:
    p = r["probe"]
    ok = not r["sent_twice"] and r["not_sent"] == 0 and r["reminder_keys_emailed"] == r["touchpoints"] \
        and r["emails"] == r["touchpoints"]
    within = r["all_sent_s"] is not None and r["all_sent_s"] <= TARGET_SECONDS and r["not_sent"] == 0
    return "\n".join([
        f"Notices benchmark, {r['when']} ({r['machine']}; load {r['load'][0]:.1f} at the end)",
        "",
        "| Measure | Value |",
        "|---|---:|",
        f"| Touchpoints due at once (bench accounts x {PER_ACCOUNT}) | {r['touchpoints']:,} |",
        f"| Seeding (bulk_create, touchpoints + 2 notices each) | {r['seed_s']:.1f} s |",
        f"| Worker | 1, pool {r['pool']}, concurrency {r['concurrency']} |",
        f"| Dispatcher tick (claim + queue {r['claimed']} sends in chunks of {r['chunk']}) | "
        f"{r['dispatch_s'] if r['dispatch_s'] is not None else '-'} s |",
        f"| First reminder sent after | {r['first_sent_s']} s |",
        f"| **All reminders sent after** | **{r['all_sent_s']} s** |",
        f"| Rate | {r['rate_per_s']} notices/s |",
        f"| Sent / not sent / failed | {r['sent']:,} / {r['not_sent']} / {r['failed']} |",
        f"| Emails written / distinct reminder keys | {r['emails']:,} / {r['reminder_keys_emailed']:,} |",
        f"| Sent twice | {len(r['sent_twice'])} |",
        f"| Sent in more than one attempt | {r['attempts_over_1']} |",
        f"| Delivery tasks run | {r['deliver_tasks']} |",
        f"| Worker CPU (its processes, after start-up) | {r['worker_cpu_s']} s "
        f"({1000 * r['worker_cpu_s'] / max(r['sent'], 1):.1f} ms per notice) |",
        f"| One notice in-process ({r['probe_count']} sent again without Celery): wall / Python CPU / "
        f"PostgreSQL CPU / queries | {p['wall_ms']} ms / {p['python_cpu_ms']} ms / {p['database_cpu_ms']} ms / "
        f"{p['queries']} |",
        "",
        f"Target (all sent within {TARGET_SECONDS:.0f} s, none twice): "
        + ("met." if ok and within else "MISSED." if ok else "FAILED: a reminder went twice or not at all."),
        *(["", "Worker errors:", *r["worker_errors"]] if r["worker_errors"] else []),
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--touchpoints", type=int, default=int(os.environ.get("BENCH_NOTICES", 10000)))
    parser.add_argument("--pool", default=os.environ.get("BENCH_NOTICES_POOL", "prefork"))
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_NOTICES_CONCURRENCY", 2)))
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for every reminder")
    parser.add_argument("--probe", type=int, default=300, help="reminders sent again in-process to profile one")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("The notices benchmark runs on PostgreSQL: set DATABASE_URL.")
    if "bench" not in settings.DATABASES["default"]["NAME"]:
        # It empties the outbox and the touchpoints: only ever on a benchmark database.
        raise SystemExit(f"Refusing to run on {settings.DATABASES['default']['NAME']!r}: not a bench database.")
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        raise SystemExit("The notices benchmark needs Redis: set REDIS_URL.")
    result = run(args)
    text = report(result)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "notices.md").write_text(text)
    (out / "notices.json").write_text(json.dumps(result, indent=2, default=str))
    print(text)
    if result["sent_twice"] or result["not_sent"] or result["emails"] != result["touchpoints"]:
        log(f"the worker's log and the mail log are kept in {result['workdir']}")
        sys.exit(1)
    shutil.rmtree(result["workdir"])


if __name__ == "__main__":
    main()
