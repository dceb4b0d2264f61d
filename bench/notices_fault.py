"""The notices benchmark under a fault (`make bench-notices-fault`, part of `make bench`): 10,000
reminders due at once, one real Celery worker, and `kill -9` of that whole worker (its main
process and its prefork children) mid-run; a new worker is started at once, as a supervisor
would. How many are lost, how many emailed twice, and how long until all are sent?

bench/notices.sh prepares the database and runs this after bench/notices.py. Here:

1. the data of bench/notices.py (N touchpoints due now, their reminders and escalations);
2. one worker (`celery -A config worker`, prefork, concurrency 2) and the dispatcher's tick;
3. once `--kill-at` of the reminders are sent, SIGKILL to the worker's process group; the rows
   its chunks held are counted, and a second worker started;
4. beat's two outbox entries are sent at their intervals, as beat would (the sweep
   `outbox.tasks.reclaim_notices` every 15 s, the dispatcher every minute); the rest of the
   schedule is left out, so that nothing else takes the worker's time;
5. it waits until every reminder is sent, then counts lost (not sent), duplicated (emails written
   more than once, per Message-ID, as a receiver would drop them) and the time to all sent.

Prints a markdown report and writes it to bench/results/notices_fault.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.notices import QUEUE, REMINDER, ROOT, Worker, log, seed  # noqa: E402  (sets Django up)
from outbox import notices  # noqa: E402
from outbox.models import Notice  # noqa: E402

SWEEP_EVERY = 15.0  # beat's "outbox-reclaim-notices"
DISPATCH_EVERY = 60.0  # beat's "crm-dispatch-notices"


def _forget(queue: str) -> None:
    """The run's queue, and the killed worker's unacknowledged messages (kombu keeps them in Redis
    for its visibility timeout, an hour, then would deliver them again to no one)."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(queue)
    for tag, raw in client.hgetall("unacked").items():
        if queue in json.loads(raw)[2:]:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from config.celery_app import app

    data = seed(args.touchpoints)
    workdir = Path(tempfile.mkdtemp(prefix="keepwarm-bench-notices-fault-"))
    mail_log = workdir / "mail.log"
    mail_log.touch()
    reminders = Notice.objects.filter(kind=REMINDER)
    first = Worker(pool="prefork", concurrency=args.concurrency, mail_log=mail_log, log_path=workdir / "worker-1.log")
    second = None
    try:
        started_at, started = timezone.now(), time.perf_counter()
        app.send_task("crm.tasks.dispatch_notices", queue=QUEUE)  # beat's tick
        while reminders.filter(state=Notice.State.SENT).count() < args.kill_at * args.touchpoints:
            if time.perf_counter() - started > args.timeout:
                raise SystemExit(f"Not {args.kill_at:.0%} sent after {args.timeout}s:\n{first.output()[-3000:]}")
            time.sleep(0.1)
        os.killpg(first.process.pid, signal.SIGKILL)  # the main process and its pool children
        killed_at, killed = timezone.now(), time.perf_counter()
        first.process.wait(timeout=10)
        at_kill = dict(reminders.values_list("state").annotate(n=Count("pk")).order_by())
        held = list(reminders.filter(state=Notice.State.CLAIMED).exclude(claimed_by="").values_list("pk", flat=True))
        log(f"killed the worker {killed - started:.1f}s in: {at_kill}, {len(held)} held by its chunks")

        second = Worker(pool="prefork", concurrency=args.concurrency, mail_log=mail_log,
                        log_path=workdir / "worker-2.log")
        restarted_s = time.perf_counter() - killed
        # Beat's clock started with the tick: its sweeps fall every 15 s from then, not from the kill.
        next_sweep = started + SWEEP_EVERY * math.ceil((killed - started) / SWEEP_EVERY)
        next_dispatch = started + DISPATCH_EVERY
        sweeps = dispatches = 0
        while True:
            now = time.perf_counter()
            if now >= next_sweep:
                app.send_task("outbox.tasks.reclaim_notices", queue=QUEUE)
                next_sweep, sweeps = next_sweep + SWEEP_EVERY, sweeps + 1
            if now >= next_dispatch:
                app.send_task("crm.tasks.dispatch_notices", queue=QUEUE)
                next_dispatch, dispatches = next_dispatch + DISPATCH_EVERY, dispatches + 1
            if reminders.exclude(state=Notice.State.SENT).count() == 0:
                break
            if second.process.poll() is not None:
                raise SystemExit(f"The second worker died:\n{second.output()[-3000:]}")
            if now - started > args.timeout:
                log(f"gave up after {args.timeout}s")
                break
            time.sleep(0.25)
        time.sleep(2)  # a duplicate send still running has time to show in the log
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        _forget(QUEUE)
    sent = reminders.filter(state=Notice.State.SENT)
    last = sent.order_by("-sent_at").values_list("sent_at", flat=True).first()
    # The rows the dead worker's chunks held: what the lease is about (the rest were still queued
    # in Redis, and the second worker takes them in turn).
    held_last = sent.filter(pk__in=held).order_by("-sent_at").values_list("sent_at", flat=True).first()
    rows = [line.split("\t") for line in mail_log.read_text().splitlines()]
    per_id = Counter(row[2] for row in rows if len(row) > 2)
    per_key = Counter(data["subjects"].get(row[0], f"(not a reminder) {row[0]}") for row in rows)
    return {
        "touchpoints": args.touchpoints,
        "concurrency": args.concurrency,
        "chunk": notices.CHUNK,
        "lease_s": notices.LEASE.total_seconds(),
        "renew_every_s": notices.RENEW_EVERY,
        "killed_after_s": round((killed_at - started_at).total_seconds(), 2),
        "sent_at_kill": at_kill.get(Notice.State.SENT, 0),
        "held_at_kill": len(held),
        "queued_at_kill": at_kill.get(Notice.State.CLAIMED, 0) - len(held),
        "held_sent_after_kill_s": round((held_last - killed_at).total_seconds(), 2) if held_last else None,
        "second_worker_ready_s": round(restarted_s, 1),
        "sweeps": sweeps,
        "dispatches": dispatches,
        "all_sent_s": round((last - started_at).total_seconds(), 2) if last else None,
        "last_sent_after_kill_s": round((last - killed_at).total_seconds(), 2) if last else None,
        "sent": sent.count(),
        "lost": reminders.exclude(state=Notice.State.SENT).count(),
        "emails": len(rows),
        "message_ids": len(per_id),
        "duplicated": sum(n - 1 for n in per_id.values()),
        "keys_emailed_twice": sorted(key for key, n in per_key.items() if n > 1)[:20],
        "ids_per_key_mismatch": len(per_id) != sum(1 for key in per_key if key.startswith(REMINDER)),
        "attempts_over_1": sent.filter(attempts__gt=1).count(),
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": os.getloadavg(),
        "machine": f"{os.cpu_count()} CPUs",
        "workdir": str(workdir),
    }


def report(r: dict[str, Any]) -> str:
    ok = r["lost"] == 0 and r["duplicated"] <= r["concurrency"] and not r["ids_per_key_mismatch"]
    return "\n".join([
        f"Notices under a fault, {r['when']} ({r['machine']}; load {r['load'][0]:.1f} at the end)",
        "",
        "| Measure | Value |",
        "|---|---:|",
        f"| Reminders due at once | {r['touchpoints']:,} |",
        f"| Worker | 1, prefork, concurrency {r['concurrency']}; chunks of {r['chunk']} |",
        f"| Lease / renewed every | {r['lease_s']:.0f} s / {r['renew_every_s']:.0f} s |",
        f"| `kill -9` of the worker's process group after | {r['killed_after_s']} s |",
        f"| Sent when killed | {r['sent_at_kill']:,} |",
        f"| Held by the killed worker's chunks / still queued | {r['held_at_kill']} / {r['queued_at_kill']:,} |",
        f"| Second worker ready after the kill | {r['second_worker_ready_s']} s |",
        f"| **All sent after** (from the tick) | **{r['all_sent_s']} s** |",
        f"| **Rows the killed worker held: all sent after the kill** | **{r['held_sent_after_kill_s']} s** |",
        f"| Last reminder sent after the kill | {r['last_sent_after_kill_s']} s |",
        f"| Lost (not sent) | {r['lost']} |",
        f"| Emails written / distinct Message-IDs / **duplicated** | {r['emails']:,} / {r['message_ids']:,} / "
        f"**{r['duplicated']}** |",
        f"| Sent in more than one attempt | {r['attempts_over_1']} |",
        f"| Sweeps / dispatcher ticks after the first | {r['sweeps']} / {r['dispatches']} |",
        "",
        "Promise (none lost; duplicates at most the sends in flight, one per pool process): "
        + ("kept." if ok else "BROKEN."),
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--touchpoints", type=int, default=int(os.environ.get("BENCH_NOTICES", 10000)))
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_NOTICES_CONCURRENCY", 2)))
    parser.add_argument("--kill-at", type=float, default=float(os.environ.get("BENCH_NOTICES_KILL_AT", 0.5)),
                        help="share of the reminders sent when it kills the worker")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for every reminder")
    args = parser.parse_args()
    if connection.vendor != "postgresql" or "bench" not in settings.DATABASES["default"]["NAME"]:
        raise SystemExit("Runs on a PostgreSQL bench database only (bench/notices.sh sets it).")
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        raise SystemExit("The notices benchmark needs Redis: set REDIS_URL.")
    result = run(args)
    text = report(result)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "notices_fault.md").write_text(text)
    (out / "notices_fault.json").write_text(json.dumps(result, indent=2, default=str))
    print(text)
    log(f"the workers' logs and the mail log are in {result['workdir']}")
    if result["lost"] or result["duplicated"] > result["concurrency"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
