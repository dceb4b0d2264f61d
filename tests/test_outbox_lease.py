"""The outbox's claim lease (issue 18, reliability.md 21): a sender holds the rows it took under a
short lease that it renews while it works; beat's sweep (`notices.reclaim`) claims again the rows
of a sender whose lease ran out (a dead worker) and no others, so they go within about a minute
and none twice; a sender that lost its claim sends nothing. Every email of a notice carries a
Message-ID made from its key, the same on every attempt, for a receiver to drop a duplicate by.

The tests with threads (a live sender and the sweep at the same moment) need PostgreSQL's row
locks; the others run on SQLite too. A real worker killed mid-run: test_outbox_lease_worker.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from smtplib import SMTPException
from typing import Any

import pytest
import time_machine
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, connections
from django.test import TestCase
from django.utils import timezone

from outbox import notices
from outbox.models import Notice
from outbox.tasks import deliver_notices
from tests.scenarios import accept_deal

KIND = "test.lease"
DEAD = "dead-host 4242 0f0f0f0f-task 00000000"  # the name a worker killed mid-chunk left behind
needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a live sender racing the sweep needs PostgreSQL row locks: set DATABASE_URL (CI does)",
)
SLOW_SEND = 0.0  # seconds the builder takes per notice (set by the tests of a slow sender)
_built_by: list[tuple[int, str]] = []  # (thread, notice key) of every build


def _message(notice: Notice) -> list[EmailMessage]:
    time.sleep(SLOW_SEND)
    _built_by.append((threading.get_ident(), notice.key))
    return [EmailMessage(subject=f"Notice {notice.key}", body="-", to=["ops@vendor.example"])]


@pytest.fixture(autouse=True)
def builder(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test kind's builder for one test; no producer runs (a digest owed at this hour would
    add emails that have nothing to do with the lease)."""
    monkeypatch.setitem(notices._builders, KIND, _message)
    monkeypatch.setattr(notices, "_producers", {})
    _built_by.clear()
    yield


def _owe(count: int) -> list[int]:
    due = timezone.now() - timedelta(minutes=1)
    rows = Notice.objects.bulk_create(
        Notice(kind=KIND, key=f"{KIND}:{i}", target=f"test.lease:{i}", due_at=due) for i in range(count)
    )
    return [row.pk for row in rows]


def _taken_by(ids: list[int], holder: str, *, lease_left: timedelta) -> None:
    """As a sender leaves its rows: claimed, taken by `holder`, its lease ending after `lease_left`
    (negative: already run out)."""
    now = timezone.now()
    Notice.objects.filter(pk__in=ids).update(
        state=Notice.State.CLAIMED, claimed_at=now - timedelta(minutes=1), claimed_by=holder,
        lease_until=now + lease_left,
    )


def _subjects(mailoutbox: list[Any]) -> Counter[str]:
    return Counter(message.subject for message in mailoutbox)


def _sweep() -> int:
    """Beat's sweep, with the sends it queues run on commit (eager tasks, as a second worker)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return notices.reclaim()


# --- The sweep: a lease that ran out, and one that did not ---------------------------------------


@pytest.mark.django_db
def test_a_claim_whose_lease_ran_out_is_claimed_again_and_sent_once(mailoutbox):
    ids = _owe(3)
    _taken_by(ids, DEAD, lease_left=-timedelta(seconds=1))

    assert _sweep() == 3

    assert _subjects(mailoutbox) == {f"Notice {KIND}:{i}": 1 for i in range(3)}
    rows = Notice.objects.filter(pk__in=ids)
    assert {row.state for row in rows} == {Notice.State.SENT}
    assert all(row.claimed_by != DEAD and row.claimed_by for row in rows)  # the sender that sent it
    # The dead worker's message, delivered again an hour later (Redis' visibility timeout): no-op.
    assert deliver_notices(ids) == 0
    assert _sweep() == 0 and len(mailoutbox) == 3


@pytest.mark.django_db
def test_a_claim_whose_lease_is_still_running_is_left_to_its_sender(mailoutbox):
    ids = _owe(2)
    _taken_by(ids, "live-host 1 task abcd", lease_left=timedelta(seconds=30))

    assert _sweep() == 0
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert notices.dispatch() == 0  # the minute's tick leaves it too
    assert mailoutbox == []
    assert set(Notice.objects.filter(pk__in=ids).values_list("state", "claimed_by")) == {
        (Notice.State.CLAIMED, "live-host 1 task abcd")
    }

    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        assert _sweep() == 2  # its worker stopped renewing: dead
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_a_task_delivered_again_after_its_pool_process_died_takes_its_rows_back_at_once(mailoutbox):
    """Killing one prefork child: Celery delivers its task again at once (reject on worker lost);
    the new run takes the rows its dead run still holds under a running lease, and sends them now.
    Another task leaves them alone until the lease runs out."""
    ids = _owe(3)
    task_id = "5e1f0d2c-task-of-a-killed-child"
    _taken_by(ids, f"worker-host 31337 {task_id} 0badf00d", lease_left=timedelta(seconds=40))

    assert deliver_notices.apply(args=[ids]).get() == 0  # another task: the lease still runs
    assert mailoutbox == []

    assert deliver_notices.apply(args=[ids], task_id=task_id).get() == 3
    assert _subjects(mailoutbox) == {f"Notice {KIND}:{i}": 1 for i in range(3)}
    assert all(f" {task_id} " in row.claimed_by and "31337" not in row.claimed_by
               for row in Notice.objects.filter(pk__in=ids))


@pytest.mark.django_db
def test_a_claim_from_before_the_lease_keeps_the_old_timeout(mailoutbox):
    """A row claimed before the deploy (or whose task still waits in the broker) has no lease:
    it is claimed again once CLAIM_TIMEOUT has passed, as before, not sooner."""
    ids = _owe(2)
    now = timezone.now()
    Notice.objects.filter(pk=ids[0]).update(
        state=Notice.State.CLAIMED, claimed_at=now - notices.CLAIM_TIMEOUT + timedelta(minutes=1)
    )
    Notice.objects.filter(pk=ids[1]).update(
        state=Notice.State.CLAIMED, claimed_at=now - notices.CLAIM_TIMEOUT - timedelta(minutes=1)
    )

    assert _sweep() == 1

    assert _subjects(mailoutbox) == {f"Notice {KIND}:1": 1}
    assert Notice.objects.get(pk=ids[0]).state == Notice.State.CLAIMED


@pytest.mark.django_db
def test_a_sender_that_lost_its_claim_sends_nothing(mailoutbox):
    """A worker stalled past its lease (not dead): the sweep claimed its rows again for another
    sender. When it wakes up it checks, under the row lock, that it still holds each one."""
    ids = _owe(2)
    _taken_by(ids, DEAD, lease_left=-timedelta(seconds=1))
    with TestCase.captureOnCommitCallbacks(execute=False) as queued:
        assert notices.reclaim() == 2  # claimed again; the new sender's task not run yet

    assert [notices.deliver(pk, holder=DEAD) for pk in ids] == ["lost", "lost"]
    assert mailoutbox == []

    for callback in queued:
        callback()  # the new sender
    assert _subjects(mailoutbox) == {f"Notice {KIND}:{i}": 1 for i in range(2)}
    assert [notices.deliver(pk, holder=DEAD) for pk in ids] == ["lost", "lost"]
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_a_send_the_task_retries_gives_its_lease_back(settings, monkeypatch):
    """A passing failure that the kind's own task retries (`deliver_now`) leaves the row claimed
    without a lease: the sweep leaves it to that retry (CLAIM_TIMEOUT), as before the lease."""
    settings.EMAIL_BACKEND = "tests.test_outbox_lease.DownBackend"
    (pk,) = _owe(1)
    Notice.objects.filter(pk=pk).update(state=Notice.State.CLAIMED, claimed_at=timezone.now())

    with pytest.raises(SMTPException):
        notices.deliver_now(f"{KIND}:0", worker_retries=True)

    notice = Notice.objects.get(pk=pk)
    assert (notice.state, notice.attempts, notice.claimed_by, notice.lease_until) == (
        Notice.State.CLAIMED, 1, "", None
    )
    assert _sweep() == 0


# --- A live sender renewing its lease while the sweep runs (PostgreSQL) -------------------------


def _sweeping(until: threading.Event, claimed: list[int]) -> None:
    """Beat's sweep every 50 ms until told to stop; what it claims is sent in this thread (the
    eager task: a second worker)."""
    try:
        while not until.is_set():
            claimed.append(_sweep())
            time.sleep(0.05)
    finally:
        connections.close_all()


def _send_with_the_sweep_running(ids: list[int]) -> tuple[dict[int, str], int]:
    """Sends `ids` as one delivery task does while the sweep runs in another thread; returns
    this sender's states and how many rows the sweep claimed."""
    claimed: list[int] = []
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweeping, args=(stop, claimed))
    Notice.objects.filter(pk__in=ids).update(state=Notice.State.CLAIMED, claimed_at=timezone.now())
    sweeper.start()
    try:
        states = notices.deliver_claimed(ids)
    finally:
        stop.set()
        sweeper.join(timeout=30)
    assert not sweeper.is_alive()
    return states, sum(claimed)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_slow_sender_that_renews_its_lease_keeps_its_rows(mailoutbox, monkeypatch):
    monkeypatch.setattr(notices, "LEASE", timedelta(seconds=1.5))
    monkeypatch.setattr(notices, "RENEW_EVERY", 0.3)
    monkeypatch.setattr(f"{__name__}.SLOW_SEND", 0.2)
    ids = _owe(12)  # 2.4 s of sending: longer than the lease

    states, reclaimed = _send_with_the_sweep_running(ids)

    assert reclaimed == 0
    assert states == dict.fromkeys(ids, "sent")
    assert {thread for thread, _key in _built_by} == {threading.get_ident()}
    assert _subjects(mailoutbox) == {f"Notice {KIND}:{i}": 1 for i in range(12)}


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_sender_that_stops_renewing_loses_the_rest_of_its_rows_and_none_goes_twice(mailoutbox, monkeypatch):
    """The same slow sender without renewal (as if it stalled): the sweep claims its remaining
    rows for another sender once the lease ran out; this one finds them lost, and no notice is
    sent twice (the row it is sending is locked, so the sweep skips it)."""
    monkeypatch.setattr(notices, "LEASE", timedelta(seconds=1))
    monkeypatch.setattr(notices, "RENEW_EVERY", 3600.0)
    monkeypatch.setattr(f"{__name__}.SLOW_SEND", 0.2)
    ids = _owe(12)

    states, reclaimed = _send_with_the_sweep_running(ids)

    lost = [pk for pk, state in states.items() if state == "lost"]
    assert lost and reclaimed >= len(lost), states
    assert {states[pk] for pk in ids if pk not in lost} == {"sent"}
    here = threading.get_ident()
    assert sum(thread == here for thread, _key in _built_by) == len(ids) - len(lost)  # sent by this one
    assert _subjects(mailoutbox) == {f"Notice {KIND}:{i}": 1 for i in range(12)}
    assert set(Notice.objects.filter(pk__in=ids).values_list("state", flat=True)) == {Notice.State.SENT}


# --- The Message-ID ------------------------------------------------------------------------------


class DownBackend(BaseEmailBackend):
    """A mail server that is down: raises, after noting each message's Message-ID as sent."""

    message_ids: list[str] = []

    def send_messages(self, email_messages: Any) -> int:
        DownBackend.message_ids += [message.message()["Message-ID"] for message in email_messages]
        raise SMTPException("421 4.3.2 Service not available")


def _three_messages(notice: Notice) -> list[EmailMessage]:
    return [
        EmailMessage(subject="A", body="-", to=["alice@acme.example"]),
        EmailMessage(subject="B", body="-", to=["bruno@acme.example"], cc=["alice@acme.example"]),
        EmailMessage(subject="A again", body="-", to=["alice@acme.example"]),
    ]


@pytest.mark.django_db
def test_each_email_of_a_notice_has_a_message_id_from_its_key_the_same_on_a_retry(settings, mailoutbox, monkeypatch):
    settings.SITE_URL = "https://keepwarm.example"
    monkeypatch.setitem(notices._builders, KIND, _three_messages)
    (pk,) = _owe(1)
    Notice.objects.filter(pk=pk).update(state=Notice.State.CLAIMED, claimed_at=timezone.now())
    settings.EMAIL_BACKEND = "tests.test_outbox_lease.DownBackend"
    DownBackend.message_ids = []

    assert notices.deliver(pk) == Notice.State.PENDING  # the server is down: owed again later
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Notice.objects.filter(pk=pk).update(state=Notice.State.CLAIMED, claimed_at=timezone.now())
    assert notices.deliver(pk) == Notice.State.SENT

    sent = [message.message()["Message-ID"] for message in mailoutbox]
    assert DownBackend.message_ids == sent[:1]  # the first attempt got as far as the first email
    assert len(set(sent)) == 3  # one per email, even two to the same recipients
    assert all(mid.startswith("<") and mid.endswith("@keepwarm.example>") for mid in sent)
    assert sent == [
        notices.message_id(f"{KIND}:0", ["alice@acme.example"], 1),
        notices.message_id(f"{KIND}:0", ["alice@acme.example", "bruno@acme.example"], 1),
        notices.message_id(f"{KIND}:0", ["alice@acme.example"], 2),
    ]
    assert f"{KIND}:0" not in sent[0]  # a hash: the key's ids do not show
    # Another notice's emails to the same people have other ids.
    assert notices.message_id(f"{KIND}:1", ["alice@acme.example"], 1) not in sent


@pytest.mark.django_db
def test_a_message_id_the_builder_set_is_kept(mailoutbox, monkeypatch):
    def own_id(notice: Notice) -> list[EmailMessage]:
        return [EmailMessage(subject="A", body="-", to=["a@x.example"], headers={"Message-Id": "<own@x.example>"})]

    monkeypatch.setitem(notices._builders, KIND, own_id)
    (pk,) = _owe(1)
    Notice.objects.filter(pk=pk).update(state=Notice.State.CLAIMED, claimed_at=timezone.now())

    assert notices.deliver(pk) == Notice.State.SENT
    assert mailoutbox[0].message().get_all("Message-ID") == ["<own@x.example>"]


@pytest.mark.django_db
def test_a_real_kind_s_emails_carry_their_notice_s_message_id(deal, rep, salesmgr, deliverymgr, delivery, mailoutbox):
    """The acceptance emails end to end, through their own task (`deliver_now`)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    notice = Notice.objects.get(kind="handover.acceptance")
    assert notice.state == Notice.State.SENT and len(mailoutbox) == 4
    assert [m.message()["Message-ID"] for m in mailoutbox] == [
        notices.message_id(notice.key, sorted(m.recipients()), 1) for m in mailoutbox
    ]
