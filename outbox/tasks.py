"""The outbox's tasks: beat's dispatcher, and the senders it queues.

They keep the names they were registered under when the outbox lived in crm (`crm.tasks.*`):
messages queued before a deploy name their task by it, and beat's schedule does. (A send whose
message were lost would still go: its notice stays `claimed` and the dispatcher claims it again
once `notices.CLAIM_TIMEOUT` has passed; the kept names spare it that wait.)
"""

from __future__ import annotations

from celery import Task, shared_task

from outbox import notices


@shared_task(name="crm.tasks.dispatch_notices")
def dispatch_notices() -> int:
    """Beat's one dispatcher, every minute: claims what is due in the outbox and queues each send."""
    return notices.dispatch()


@shared_task(name="crm.tasks.deliver_notice")
def deliver_notice(notice_id: int) -> str:
    """Sends one claimed notice (outbox.notices.deliver); safe to run twice."""
    return notices.deliver(notice_id)


@shared_task(name="crm.tasks.deliver_notices")
def deliver_notices(notice_ids: list[int]) -> int:
    """Sends a chunk of claimed notices, each in its own transaction; safe to run twice."""
    return sum(notices.deliver(pk) == "sent" for pk in notice_ids)


def worker_retries_left(task: Task) -> bool:
    """Whether a bound task that sends a notice with `notices.deliver_now` (and retries a passing
    failure through `autoretry_for`) has a retry left after this run."""
    return task.max_retries is None or (task.request.retries or 0) < task.max_retries
