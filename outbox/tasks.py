"""The outbox's tasks: beat's dispatcher, and the senders it queues.

They keep the names they were registered under when the outbox lived in crm (`crm.tasks.*`):
messages queued before a deploy name their task by it, and beat's schedule does. (A send whose
message were lost would still go: its notice stays `claimed` and the dispatcher claims it again
once `notices.CLAIM_TIMEOUT` has passed; the kept names spare it that wait.) The lease's sweep is
new, so it has a name of its own.
"""

from __future__ import annotations

from celery import Task, shared_task

from outbox import notices


@shared_task(name="crm.tasks.dispatch_notices")
def dispatch_notices() -> int:
    """Beat's one dispatcher, every minute: claims what is due in the outbox and queues each send."""
    return notices.dispatch()


@shared_task(name="outbox.tasks.reclaim_notices")
def reclaim_notices() -> int:
    """Beat's sweep, every 15 seconds: claims again the rows of a sender whose lease ran out (its
    worker died) and queues their sends, so they go within about a minute."""
    return notices.reclaim()


@shared_task(name="crm.tasks.deliver_notice")
def deliver_notice(notice_id: int) -> str:
    """Sends one claimed notice under a lease (outbox.notices.deliver_claimed); safe to run twice."""
    return notices.deliver_claimed([notice_id])[notice_id]


@shared_task(name="crm.tasks.deliver_notices")
def deliver_notices(notice_ids: list[int]) -> int:
    """Sends a chunk of claimed notices, each in its own transaction, under a lease this task
    renews while it works through them; safe to run twice."""
    return sum(state == "sent" for state in notices.deliver_claimed(notice_ids).values())


def worker_retries_left(task: Task) -> bool:
    """Whether a bound task that sends a notice with `notices.deliver_now` (and retries a passing
    failure through `autoretry_for`) has a retry left after this run."""
    return task.max_retries is None or (task.request.retries or 0) < task.max_retries
