"""The outbox: every reminder, escalation, digest and alert the product owes, exactly once.

Apps schedule a `Notice` (kind, unique key, due time, target) in the transaction that makes it
owed, and register a builder for its kind that turns it into emails when it is sent. One beat
dispatcher (`outbox.tasks.dispatch_notices`, every minute) claims due rows with
`select_for_update(skip_locked=True)` and queues `deliver_notices` tasks (chunks of ids) on commit.
The sender locks the row, re-reads what it is about, sends and marks it sent in one
transaction. So:

- two dispatchers never claim the same row (skip_locked; the key is unique, so nothing is owed
  twice);
- a sent notice is never sent again (state `sent` is checked under the row lock);
- a sender takes its claimed rows under a short lease (`LEASE`, with its name in `claimed_by`)
  and renews it while it works through them; a worker that dies leaves `claimed` rows whose
  lease runs out, and beat's sweep (`reclaim`, every 15 seconds) claims them again within about
  a minute (visible meanwhile, never lost). A sender checks under the row lock that it still
  holds the claim before it sends, so a slow sender whose rows were claimed again sends none of
  them twice; a claim no sender has taken yet (its task waits in the broker, or was lost) is
  claimed again once `CLAIM_TIMEOUT` has passed, as every claim was before the lease. So each
  notice is sent at least once, and a second time only when its worker died between writing
  the email and committing the `sent` mark: duplicates are bounded by the sends in flight, and
  every email carries a Message-ID made from the notice's key (`message_id`) that stays the same
  on every attempt, for a receiver to drop a duplicate by;
- a send that failed for a passing reason (the mail server or the database, `TRANSIENT_SEND_ERRORS`)
  goes back to `pending` with a later due time (exponential backoff), and after `MAX_ATTEMPTS`
  ends `failed`, shown to staff with a retry action; any other failure (a header Django refuses,
  a bad address, a broken template) ends `failed` at once, as retrying would not cure it;
- nothing uses a Celery ETA: due times live in this table.

A builder only builds: given the same rows it returns the same messages, and writes nothing. It
returns the messages to send, or an empty list when the notice is no longer needed (the stage
was signed off before its reminder fell due): the row then ends `skipped`. What sending decides
at send time (a check-up is missed, a fresh customer link is issued) is a kind's `prepare` step,
run by the sender just before the builder in the same transaction; what a page shows about the
send on the row it is about (a link's `emailed_at`, a failure's error) is written by the kind's
`outcome` hook, which the sender calls when the notice ends sent, skipped or failed.

One source, two channels: an email to staff names its users (`core.mail.email_message(users=...)`),
and the sender writes each of them a `Notification` (their bell) in the transaction that marks
the notice sent, once per (notice, user). A user who turned off the email of the kind's topic
(`outbox.topics`, `EmailOptOut`) gets the bell entry and no email; the others still get theirs,
and a notice whose every recipient chose the bell alone ends `sent` with no address.

The emails someone is waiting for at once (a new customer link, the acceptance emails, a new
owner's notice) are owed with `send_by`: claimed in the writing transaction for a task of their
own, which sends them through `deliver_now` (under a lease, like a chunk) and retries a passing
failure with the worker's short backoff; the sweep claims them again if that task's worker dies
mid-send, and the dispatcher if that task's message is lost.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.mail import TRANSIENT_SEND_ERRORS, send_error_text
from core.targets import target_of, target_pk  # noqa: F401  (notices.target_pk: for the builders)
from outbox.models import EmailOptOut, Notice, Notification
from outbox.topics import BY_KEY, Topic

logger = logging.getLogger(__name__)

# A claim no sender has taken yet (its task waits in the broker) is claimed again after this:
# a burst of 10,000 takes about a minute to drain, so a shorter wait would queue sends twice.
CLAIM_TIMEOUT = timedelta(minutes=10)
# A sender's hold on the rows it took: renewed every RENEW_EVERY while it works through them, so
# only a dead (or stalled for LEASE - RENEW_EVERY) worker's rows run out. With beat's sweep every
# 15 seconds, a dead worker's rows are claimed again 30-60 seconds after it died.
LEASE = timedelta(seconds=45)
RENEW_EVERY = 15.0  # seconds
MAX_ATTEMPTS = 6
BATCH = 500
# Notices per delivery task. Each task costs a broker round trip and, with Celery's Django fixup,
# a new database connection (it closes them around every task): 100 instead of 25 took about a
# tenth off sending 10,000 at once (docs/benchmarks.md). A task that dies is redelivered (late
# acks) and skips what it already sent: a bigger chunk delays what is left of it, and adds no
# duplicate.
CHUNK = 100
# How long a sender waits for its row's lock, in steps, before deciding another worker is sending
# it. A dispatcher scanning for due rows holds, for milliseconds, the lock of a row another
# dispatcher has just claimed: PostgreSQL locks a row before it re-checks the filter against the
# newest version, and keeps the lock to the end of that transaction. Without the wait, the
# sender of a freshly claimed row could find it locked, give up, and leave it to the stale-claim
# sweep ten minutes later. A real sender holds the lock through its send; its duplicate gives up
# after these 0.8 seconds.
LOCK_WAITS = (0.025, 0.05, 0.1, 0.2, 0.4)

Builder = Callable[..., list[EmailMessage]]
_builders: dict[str, Builder] = {}
# prepare(notice) -> the builder's keyword arguments, or None when nothing is to be sent.
Preparer = Callable[[Notice], "dict[str, Any] | None"]
_preparers: dict[str, Preparer] = {}
# outcome(notice), with the notice in its final state for this attempt (sent, skipped or failed).
Outcome = Callable[[Notice], None]
_outcomes: dict[str, Outcome] = {}
# The topic of each kind that emails staff (outbox.topics): what a user turns the email off by.
_topics: dict[str, str] = {}
Producer = Callable[[datetime], int]
_producers: dict[str, Producer] = {}


def register(
    kind: str, *, prepare: Preparer | None = None, outcome: Outcome | None = None, topic: str | None = None
) -> Callable[[Builder], Builder]:
    """Decorator: `@notices.register("delivery.signoff_reminder")` on a builder function.

    The builder takes the notice, and with `prepare` also the keyword arguments that step
    returned. `prepare` holds the writes that deciding to send makes at send time; `outcome`
    records the end of a send on the row the notice is about. Both run in the sender's
    transaction, so a send that fails rolls back what `prepare` wrote. `topic` (a key of
    `outbox.topics`): a kind that emails staff names the group its users choose its email by."""
    if topic is not None and topic not in BY_KEY:
        raise ValueError(f"Unknown topic {topic!r} for {kind!r}; add it to outbox.topics.")

    def decorate(builder: Builder) -> Builder:
        _builders[kind] = builder
        if topic is not None:
            _topics[kind] = topic
        if prepare is not None:
            _preparers[kind] = prepare
        if outcome is not None:
            _outcomes[kind] = outcome
        return builder

    return decorate


def topic_of(kind: str) -> Topic | None:
    key = _topics.get(kind)
    return BY_KEY[key] if key is not None else None


def register_producer(name: str) -> Callable[[Producer], Producer]:
    """Decorator for a function(now) -> int that owes notices found by a query rather than by an
    event (a handover past its deadline, a user's daily digest). The dispatcher runs every
    producer on each tick, before claiming; producers must be idempotent (unique keys)."""

    def decorate(producer: Producer) -> Producer:
        _producers[name] = producer
        return producer

    return decorate


def produce(now: datetime) -> int:
    total = 0
    for name, producer in sorted(_producers.items()):
        try:
            with transaction.atomic():
                total += producer(now)
        except Exception:  # noqa: BLE001 - one failing producer must not stop the others or the sends
            logger.exception("Notice producer %s failed", name)
    return total


def notice_schedule(
    *, kind: str, key: str, target: Any, due_at: datetime | None = None, data: dict[str, Any] | None = None,
    send_now: bool = False, send_by: Callable[[], Any] | None = None,
) -> Notice | None:
    """Owes a notice once per `key`; a second call with the same key changes nothing and returns
    None. With `send_now`, its delivery is queued on commit instead of waiting for the next tick.
    With `send_by` (a function that queues the kind's own task), the notice is claimed for that
    task instead and `send_by` is called on commit; the task sends it with `deliver_now`."""
    now = timezone.now()
    notice, created = Notice.objects.get_or_create(
        key=key,
        defaults={
            "kind": kind,
            "target": target if isinstance(target, str) else target_of(target),
            "due_at": due_at or now,
            "data": data or {},
        },
    )
    if not created:
        return None
    if send_by is not None:
        _claim([notice.pk], now)
        transaction.on_commit(send_by)
    elif send_now or notice.due_at <= now:
        _claim_and_queue([notice.pk])
    return notice


def notices_cancel(*, target: Any, kinds: list[str] | None = None) -> int:
    """Cancels what is still owed about `target` (e.g. a touchpoint that was cancelled)."""
    qs = Notice.objects.filter(
        target=target if isinstance(target, str) else target_of(target),
        state=Notice.State.PENDING,
    )
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return qs.update(state=Notice.State.CANCELLED)


def notices_reschedule(*, target: Any, kind: str, due_at: datetime) -> int:
    return Notice.objects.filter(
        target=target if isinstance(target, str) else target_of(target), kind=kind, state=Notice.State.PENDING
    ).update(due_at=due_at)


def _claim_and_queue(ids: list[int]) -> int:
    """Claims these pending rows (inside the caller's transaction) and queues their sends on commit."""
    claimed = _claim(ids, timezone.now())
    # Imported here: the tasks run this module's dispatcher and sender, and it queues them.
    from outbox.tasks import deliver_notice

    for pk in claimed:
        deliver_notice.delay_on_commit(pk)
    return len(claimed)


def _claim(ids: list[int], now: datetime) -> list[int]:
    claimed = list(
        Notice.objects.filter(pk__in=ids, state=Notice.State.PENDING).values_list("pk", flat=True)
    )
    Notice.objects.filter(pk__in=claimed, state=Notice.State.PENDING).update(
        state=Notice.State.CLAIMED, claimed_at=now
    )
    return claimed


def dispatch(now: datetime | None = None, batch: int = BATCH) -> int:
    """Runs the producers, then claims due notices and stale claims and queues their sends on
    commit, in chunks. Returns how many were claimed."""
    now = now or timezone.now()
    produce(now)
    return _claim_where(Q(state=Notice.State.PENDING, due_at__lte=now) | _stale(now), now, batch)


def reclaim(now: datetime | None = None, batch: int = BATCH) -> int:
    """Beat's quick sweep (every 15 seconds, between the dispatcher's ticks): claims again only
    the rows whose sender's lease ran out (its worker died) and queues their sends. One index
    scan over the claimed rows; no producer runs."""
    now = now or timezone.now()
    return _claim_where(_stale(now), now, batch)


def _stale(now: datetime) -> Q:
    """Claimed rows to claim again: a taken row whose lease ran out, or a row no sender took
    within CLAIM_TIMEOUT (rows claimed before the lease existed included)."""
    return Q(state=Notice.State.CLAIMED, lease_until__lt=now) | Q(
        state=Notice.State.CLAIMED, lease_until__isnull=True, claimed_at__lt=now - CLAIM_TIMEOUT
    )


def _claim_where(condition: Q, now: datetime, batch: int) -> int:
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Notice.objects.select_for_update(skip_locked=True)
                .filter(condition)
                .order_by("due_at", "pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return total
            # Locked rows are skipped: a row its sender is sending right now is never claimed again.
            Notice.objects.filter(pk__in=ids).update(
                state=Notice.State.CLAIMED, claimed_at=now, claimed_by="", lease_until=None
            )
            from outbox.tasks import deliver_notices

            for start in range(0, len(ids), CHUNK):
                deliver_notices.delay_on_commit(ids[start : start + CHUNK])
        total += len(ids)
        if len(ids) < batch:
            return total


def _task_id() -> str | None:
    from celery import current_task

    return current_task.request.id if current_task else None


def holder_name() -> str:
    """A sender's name in `claimed_by`: host, process, Celery task id (when in a task) and a
    random part, so two runs of one task (a message delivered again) are told apart."""
    return f"{socket.gethostname()} {os.getpid()} {_task_id() or '-'} {secrets.token_hex(4)}"[:200]


def _take(ids: list[int], holder: str) -> list[int]:
    """Takes for `holder`, under a lease, those of these claimed rows that no live sender holds
    (not yet taken, or their lease ran out); returns them, in the given order.

    A run of the same task takes its rows back at once, lease or not: Celery delivers a task
    again when its pool process died (`task_reject_on_worker_lost`), so its earlier run is dead.
    (Were it alive, the row it is sending is locked, and it sends no other: it no longer holds
    them.)"""
    now = timezone.now()
    free = Q(claimed_by="") | Q(lease_until__lt=now)
    task_id = _task_id()
    if task_id:
        free |= Q(claimed_by__contains=f" {task_id} ")
    Notice.objects.filter(pk__in=ids, state=Notice.State.CLAIMED).filter(free).update(
        claimed_by=holder, lease_until=now + LEASE
    )
    taken = set(
        Notice.objects.filter(pk__in=ids, state=Notice.State.CLAIMED, claimed_by=holder).values_list("pk", flat=True)
    )
    return [pk for pk in ids if pk in taken]


def _renew(ids: list[int], holder: str) -> int:
    """One UPDATE: `holder` keeps the rows it still holds among these for another LEASE."""
    return Notice.objects.filter(pk__in=ids, state=Notice.State.CLAIMED, claimed_by=holder).update(
        lease_until=timezone.now() + LEASE
    )


def deliver_claimed(ids: list[int]) -> dict[int, str]:
    """Sends a chunk of claimed notices (a `deliver_notices` task), each in its own transaction,
    under a lease renewed every RENEW_EVERY seconds. Returns each one's state for this attempt;
    "lost" for a row this sender did not hold: sent already (a message delivered again), or held
    by another sender (claimed again while this worker was taken for dead)."""
    holder = holder_name()
    mine = _take(ids, holder)
    states = dict.fromkeys(ids, "lost")
    renewed = time.monotonic()
    for position, pk in enumerate(mine):
        if time.monotonic() - renewed >= RENEW_EVERY:
            _renew(mine[position:], holder)
            renewed = time.monotonic()
        states[pk] = deliver(pk, holder=holder)
    return states


def _locked(notice_id: int) -> Notice | None:
    """The notice, row-locked; None when it is gone, or when another worker still holds it after
    `LOCK_WAITS` (it is sending it right now)."""
    for wait in LOCK_WAITS:
        notice = _try_lock(notice_id)
        if notice is not None or not Notice.objects.filter(pk=notice_id).exists():
            return notice
        time.sleep(wait)  # each statement reads afresh (read committed): the next try sees the release
    return _try_lock(notice_id)


def _try_lock(notice_id: int) -> Notice | None:
    rows = list(Notice.objects.select_for_update(skip_locked=True).filter(pk=notice_id).order_by()[:1])
    return rows[0] if rows else None


def deliver(notice_id: int, *, worker_retries: bool = False, holder: str | None = None) -> str:
    """Sends one claimed notice. Returns its final state for this attempt.

    The lock, the kind's `prepare` step, the builder's reads, the send, the `sent` mark and the
    kind's `outcome` share one transaction. When any of them raises, that transaction rolls
    back (what `prepare` wrote with it, whatever the error, a database one included) and the
    failure is recorded in a new transaction, under the lock again. No savepoint: two round
    trips fewer per notice, which matters when thousands fall due at once (docs/benchmarks.md).

    With `worker_retries` (a kind's own task that has retries left, `deliver_now`), a failure
    retrying may cure is recorded, the notice stays claimed by that task, and the error is
    raised again for the task to retry.

    With `holder`, it sends only while that sender still holds the claim (checked under the row
    lock, which the dispatcher's sweep skips): "lost" when the lease ran out and the row was
    claimed again for another sender (which may have sent it since)."""
    try:
        with transaction.atomic():
            notice = _locked(notice_id)
            if notice is None:
                return "locked"
            if holder is not None and notice.claimed_by != holder:
                return "lost"
            if notice.state != Notice.State.CLAIMED:
                return notice.state
            builder = _builders.get(notice.kind)
            if builder is None:
                return _fail(notice, f"No builder registered for {notice.kind!r}.", final=True)
            messages = _build(notice, builder)
            bell, emails = _in_product(notice, messages)
            for message in emails:
                message.send()
            notice.state = Notice.State.SENT if messages else Notice.State.SKIPPED
            notice.sent_at = timezone.now() if messages else None
            notice.attempts += 1
            notice.recipients = sorted({address for message in emails for address in message.to})
            notice.last_error = ""
            notice.save(update_fields=["state", "sent_at", "attempts", "recipients", "last_error"])
            # Under the unique (notice, user) a second send could add none; there is none (the
            # state is checked under the lock), and a failed attempt rolled its entries back.
            Notification.objects.bulk_create(bell, ignore_conflicts=True)
            _record_outcome(notice)
            return notice.state
    except Exception as error:  # noqa: BLE001 - any send failure ends visible: retried if it may pass, else failed
        logger.warning("Notice %s failed: %s: %s", notice_id, type(error).__name__, error)
        transient = isinstance(error, TRANSIENT_SEND_ERRORS)
        with transaction.atomic():
            notice = _locked(notice_id)
            if notice is None or notice.state != Notice.State.CLAIMED:
                return "locked" if notice is None else notice.state  # another worker took it meanwhile
            if holder is not None and notice.claimed_by != holder:
                return "lost"
            if transient and worker_retries:
                _hold(notice, send_error_text(error))
            else:
                # A header Django refuses, a bad address or a broken template fails the same way
                # on every attempt: it ends failed now, for staff to see, instead of after six tries.
                return _fail(notice, send_error_text(error), final=not transient)
        raise


def _build(notice: Notice, builder: Builder) -> list[EmailMessage]:
    prepare = _preparers.get(notice.kind)
    prepared = {} if prepare is None else prepare(notice)
    messages = [] if prepared is None else builder(notice, **prepared)
    _stamp_message_ids(notice, messages)
    return messages


def delivery_id(key: str, recipient: str, occurrence: int = 1) -> str:
    """The id of one delivery of the notice owed under `key` to `recipient` (its `occurrence`-th
    to them), the same on every attempt: what a receiver drops a duplicate by. The email's
    Message-ID is made from it; an outbound webhook would send it as Standard Webhooks'
    `webhook-id` header. A hash, so the key (ids, dates) does not show."""
    return hashlib.sha256(f"{key}\0{recipient}\0{occurrence}".encode()).hexdigest()[:32]


def message_id(key: str, recipients: list[str], occurrence: int = 1) -> str:
    """The Message-ID of the email of notice `key` to `recipients`: `<delivery id@site's host>`."""
    domain = urlsplit(settings.SITE_URL).hostname or "keepwarm.invalid"
    return f"<{delivery_id(key, ','.join(sorted(recipients)), occurrence)}@{domain}>"


def _stamp_message_ids(notice: Notice, messages: list[EmailMessage]) -> None:
    """Gives each message of a notice its stable Message-ID (per recipients: a builder that drops
    one recipient's email on a later attempt changes no other's), unless the builder set one."""
    seen: Counter[str] = Counter()
    for message in messages:
        recipients = sorted(message.recipients())
        seen[",".join(recipients)] += 1
        if not any(name.lower() == "message-id" for name in message.extra_headers):
            message.extra_headers["Message-ID"] = message_id(notice.key, recipients, seen[",".join(recipients)])


def _in_product(notice: Notice, messages: list[EmailMessage]) -> tuple[list[Notification], list[EmailMessage]]:
    """The bell entries of these messages (one per staff user they name), and the messages
    still to email: without the addresses of users who turned this kind's email off, and
    without a message left with no address. No query for an email to customers only."""
    staff = [(message, user) for message in messages for user in getattr(message, "users", ())]
    if not staff:
        return [], messages
    topic = _topics.get(notice.kind)
    opted_out = set(
        EmailOptOut.objects.filter(topic=topic, user__in={user.pk for _, user in staff}).values_list(
            "user_id", flat=True
        )
    ) if topic is not None else set()
    now = timezone.now()
    bell: dict[int, Notification] = {}
    for message, user in staff:
        bell.setdefault(user.pk, Notification(
            notice=notice, user_id=user.pk, kind=notice.kind, title=str(message.subject)[:250],
            link=getattr(message, "link", "")[:500], emailed=user.pk not in opted_out, created_at=now,
        ))
    if not opted_out:
        return list(bell.values()), messages
    emails = []
    for message in messages:
        users = getattr(message, "users", ())
        wanted = {user.email for user in users if user.pk not in opted_out}
        unwanted = {user.email for user in users if user.pk in opted_out} - wanted
        message.to = [address for address in message.to if address not in unwanted]
        if message.to:
            emails.append(message)
    return list(bell.values()), emails


def _record_outcome(notice: Notice) -> None:
    outcome = _outcomes.get(notice.kind)
    if outcome is not None:
        outcome(notice)


def deliver_now(key: str, *, worker_retries: bool) -> bool:
    """Sends the notice owed under `key` that `notice_schedule(send_by=...)` claimed for the
    calling task. True when this call sent it; False when it was sent, skipped or failed
    before, or is not owed. `worker_retries`: the task has retries left (see `deliver`)."""
    pk = Notice.objects.filter(key=key, state=Notice.State.CLAIMED).values_list("pk", flat=True).first()
    if pk is None:
        return False
    holder = holder_name()
    if not _take([pk], holder):
        return False  # its task's worker was taken for dead: another sender holds it now
    return deliver(pk, worker_retries=worker_retries, holder=holder) == Notice.State.SENT


def _hold(notice: Notice, error: str) -> None:
    """A failed attempt that the calling task retries: counted and shown, still claimed (a fresh
    claim time and no lease, so the dispatcher leaves it to the task's retry for CLAIM_TIMEOUT)."""
    notice.attempts += 1
    notice.last_error = error[:2000]
    notice.claimed_at = timezone.now()
    notice.claimed_by, notice.lease_until = "", None
    notice.save(update_fields=["attempts", "last_error", "claimed_at", "claimed_by", "lease_until"])


def _fail(notice: Notice, error: str, *, final: bool = False) -> str:
    notice.attempts += 1
    notice.last_error = error[:2000]
    if final or notice.attempts >= MAX_ATTEMPTS:
        notice.state = Notice.State.FAILED
    else:
        notice.state = Notice.State.PENDING
        notice.due_at = timezone.now() + timedelta(minutes=2**notice.attempts)
    if notice.state == Notice.State.PENDING:
        notice.claimed_at, notice.claimed_by, notice.lease_until = None, "", None
    notice.save(update_fields=["attempts", "last_error", "state", "due_at", "claimed_at", "claimed_by", "lease_until"])
    if notice.state == Notice.State.FAILED:
        _record_outcome(notice)
    return notice.state


def notice_retry(*, notice: Notice) -> bool:
    """Staff retry a failed notice: it is owed again now."""
    return bool(
        Notice.objects.filter(pk=notice.pk, state=Notice.State.FAILED).update(
            state=Notice.State.PENDING, due_at=timezone.now(), attempts=0, claimed_at=None
        )
    )
