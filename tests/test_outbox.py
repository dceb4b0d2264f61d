"""The outbox's failure paths (reliability.md 21-24): failed sends retry with backoff and end in a
visible `failed` state that staff retry from the admin; a builder's database error rolls back its
own writes and leaves the notice owed; nothing is queued with a long ETA; nothing queued in a
rolled-back transaction runs. Meant for PostgreSQL (set DATABASE_URL: an error there aborts the
transaction, so the failure can only be recorded after a rollback); they pass on SQLite too."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from smtplib import SMTPException
from typing import Any

import pytest
import time_machine
from celery.signals import task_prerun
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from outbox import notices
from outbox.models import Notice
from tests.scenarios import client_for, make_user

KIND = "test.outbox"
T0 = datetime(2027, 3, 6, 10, 0, tzinfo=UTC)  # a Saturday: no digest is owed


class FailingBackend(BaseEmailBackend):
    """An SMTP server that is down: every send raises, and is counted."""

    calls = 0

    def send_messages(self, email_messages: Any) -> int:
        FailingBackend.calls += 1
        raise SMTPException("421 4.3.2 Service not available, closing transmission channel")


def _message(notice: Notice) -> list[EmailMessage]:
    return [EmailMessage(subject=f"Notice {notice.key}", body="-", to=["ops@vendor.example"])]


@pytest.fixture
def builder(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Registers the test kind's builder for one test (the registry is restored after it)."""
    monkeypatch.setitem(notices._builders, KIND, _message)
    FailingBackend.calls = 0
    yield


def _owe(key: str, due_at: datetime, kind: str = KIND) -> Notice:
    return Notice.objects.create(kind=kind, key=key, target=f"test.outbox:{key}", due_at=due_at)


def _dispatch(at: datetime) -> int:
    """One beat tick at `at`: claims what is due and runs the sends it queues (on commit)."""
    with time_machine.travel(at, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        return notices.dispatch()


# --- Failed sends: backoff, `failed`, and the staff retry ---------------------------------------


@pytest.mark.django_db
def test_a_failing_smtp_server_is_retried_with_growing_backoff_then_failed_then_retried_by_staff(
    builder, settings, mailoutbox
):
    settings.EMAIL_BACKEND = "tests.test_outbox.FailingBackend"
    notice = _owe("retry-me", due_at=T0)
    moment = T0
    backoffs = []
    for attempt in range(1, notices.MAX_ATTEMPTS + 1):
        assert _dispatch(moment) == 1
        notice.refresh_from_db()
        assert notice.attempts == attempt
        assert notice.last_error == "SMTPException: 421 4.3.2 Service not available, closing transmission channel"
        if attempt == notices.MAX_ATTEMPTS:
            break
        assert (notice.state, notice.claimed_at, notice.sent_at) == (Notice.State.PENDING, None, None)
        backoffs.append(notice.due_at - moment)
        # Owed again, but not before its backoff has passed.
        assert _dispatch(notice.due_at - timedelta(seconds=1)) == 0
        moment = notice.due_at
    assert backoffs == [timedelta(minutes=m) for m in (2, 4, 8, 16, 32)]
    assert FailingBackend.calls == notices.MAX_ATTEMPTS and mailoutbox == []

    # The last failure is final and visible: never picked up again.
    assert (notice.state, notice.sent_at) == (Notice.State.FAILED, None)
    assert _dispatch(moment + timedelta(days=2)) == 0
    assert Notice.objects.get(pk=notice.pk).attempts == notices.MAX_ATTEMPTS

    # Staff retry it once the server is back: owed now, sent by the next tick, once.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    retried_at = moment + timedelta(days=2, minutes=1)
    with time_machine.travel(retried_at, tick=False):
        assert notices.notice_retry(notice=notice) is True
        assert notices.notice_retry(notice=notice) is False  # no longer failed
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.due_at, notice.claimed_at) == (
        Notice.State.PENDING, 0, retried_at, None,
    )
    assert _dispatch(retried_at) == 1
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.last_error) == (Notice.State.SENT, 1, "")
    assert [m.subject for m in mailoutbox] == ["Notice retry-me"]
    assert _dispatch(retried_at + timedelta(hours=1)) == 0 and len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_send_failing_once_goes_out_on_the_next_due_tick_and_only_then(builder, settings, mailoutbox):
    settings.EMAIL_BACKEND = "tests.test_outbox.FailingBackend"
    notice = _owe("flaky", due_at=T0)
    assert _dispatch(T0) == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert _dispatch(T0 + timedelta(minutes=1)) == 0 and mailoutbox == []
    assert _dispatch(T0 + timedelta(minutes=2)) == 1
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.last_error) == (Notice.State.SENT, 2, "")
    assert len(mailoutbox) == 1


# --- A builder's database error, a missing builder -------------------------------------------


def _breaks_the_database(notice: Notice) -> list[EmailMessage]:
    """Writes a row, then violates the unique key: PostgreSQL aborts the transaction."""
    Notice.objects.create(kind="test.side_effect", key=f"side-effect:{notice.pk}", target="x", due_at=timezone.now())
    Notice.objects.create(kind=KIND, key=notice.key, target="x", due_at=timezone.now())
    return _message(notice)


@pytest.mark.django_db
def test_a_builder_raising_a_database_error_leaves_the_notice_owed_not_lost(monkeypatch, mailoutbox):
    monkeypatch.setitem(notices._builders, KIND, _breaks_the_database)
    notice = _owe("db-error", due_at=T0)

    assert _dispatch(T0) == 1  # the error stayed inside the sender: the dispatch went on

    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.claimed_at) == (Notice.State.PENDING, 1, None)
    assert notice.last_error.startswith("IntegrityError")
    assert notice.due_at == T0 + timedelta(minutes=2)
    # The builder's own write was rolled back with the send's transaction; the failure was recorded.
    assert not Notice.objects.filter(key__startswith="side-effect:").exists()
    assert mailoutbox == []

    # It keeps failing: after MAX_ATTEMPTS it is `failed`, for staff to see, never silently gone.
    Notice.objects.filter(pk=notice.pk).update(attempts=notices.MAX_ATTEMPTS - 1)
    assert _dispatch(notice.due_at) == 1
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (Notice.State.FAILED, notices.MAX_ATTEMPTS)
    assert notice.last_error.startswith("IntegrityError")


@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_a_real_top_level_transaction_is_recorded_too(monkeypatch, mailoutbox):
    """The same as a worker runs it: the send's transaction is a real one (not a savepoint of a
    test's), and PostgreSQL aborts it at the error."""
    monkeypatch.setitem(notices._builders, KIND, _breaks_the_database)
    notice = _owe("db-error-top-level", due_at=T0)

    with time_machine.travel(T0, tick=False):
        assert notices.dispatch() == 1  # its sends run when each claim commits (eager in tests)

    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (Notice.State.PENDING, 1)
    assert notice.last_error.startswith("IntegrityError")
    assert not Notice.objects.filter(key__startswith="side-effect:").exists() and mailoutbox == []


@pytest.mark.django_db
def test_a_notice_without_a_builder_ends_failed_at_once(mailoutbox):
    notice = _owe("orphan", due_at=T0, kind="test.nobody_builds_this")

    assert _dispatch(T0) == 1

    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (Notice.State.FAILED, 1)
    assert notice.last_error == "No builder registered for 'test.nobody_builds_this'."
    assert _dispatch(T0 + timedelta(days=1)) == 0 and mailoutbox == []


# --- No long ETA anywhere (reliability 22) -----------------------------------------------------

ROOT = Path(settings.BASE_DIR)
SKIPPED_DIRS = {".venv", "tests", "var", "node_modules", ".git", "__pycache__", ".mypy_cache", ".ruff_cache"}
FEW_MINUTES = 300  # seconds
CELERY_DEFAULTS = {"max_retries": 3, "retry_backoff_max": 600, "default_retry_delay": 180}


def _source_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if not any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in parts[:-1]):
            files.append(path)
    return files


def _options(node: ast.AST) -> dict[str, ast.expr]:
    """The keyword arguments of a call (a literal `**{...}` included)."""
    if not isinstance(node, ast.Call):
        return {}
    options = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    for kw in node.keywords:
        if kw.arg is None and isinstance(kw.value, ast.Dict):
            options.update(_items(kw.value))
    return options


def _items(node: ast.Dict) -> dict[str, ast.expr]:
    return {k.value: v for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def _seconds(options: dict[str, ast.expr], name: str) -> float | None:
    """A literal number (or True, Celery's factor 1), the default when absent, None when not a literal."""
    if name not in options:
        return CELERY_DEFAULTS.get(name)
    value = options[name]
    if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)) and value.value is not None:
        return float(value.value)
    return None


def scheduling_problems(source: str, where: str) -> list[str]:
    """Every place that could queue a task further ahead than a few minutes: an `eta` (an absolute
    time cannot be checked here), a `countdown` or `default_retry_delay` over FEW_MINUTES or not a
    literal, and an exponential retry backoff whose longest wait exceeds it."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        options = _options(node)
        if isinstance(node, ast.Dict):
            # Task options kept in a dict and passed as `**RETRY`; other dicts (a template's
            # "countdown") are not task options.
            items = _items(node)
            options = items if "retry_backoff" in items or "default_retry_delay" in items else {}
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if "eta" in options:
            problems.append(f"{line}: eta= (keep due times in the database: outbox.notices)")
        for name in ("countdown", "default_retry_delay"):
            if name in options:
                seconds = _seconds(options, name)
                if seconds is None or seconds > FEW_MINUTES:
                    problems.append(f"{line}: {name}= beyond {FEW_MINUTES}s or not a literal")
        if "retry_backoff" in options:
            factor, retries, cap = (_seconds(options, n) for n in ("retry_backoff", "max_retries", "retry_backoff_max"))
            if factor is None or retries is None or cap is None:
                problems.append(f"{line}: retry backoff not made of literals")
            elif factor and min(cap, factor * 2 ** (retries - 1)) > FEW_MINUTES:
                problems.append(f"{line}: retry backoff waits up to {min(cap, factor * 2 ** (retries - 1)):.0f}s")
    return problems


def test_the_checker_finds_long_etas_and_backoffs():
    sample = (
        "send.apply_async(args=[1], countdown=3600)\n"
        "send.apply_async(args=[1], countdown=60)\n"
        "self.retry(eta=timezone.now() + timedelta(days=1))\n"
        "send.apply_async(countdown=delay)\n"
        "@shared_task(autoretry_for=(E,), retry_backoff=True, max_retries=12)\n"
        "def t(): pass\n"
        "@shared_task(autoretry_for=(E,), retry_backoff=True, max_retries=12, retry_backoff_max=180)\n"
        "def u(): pass\n"
        "RETRY = {'retry_backoff': 30, 'max_retries': 6}\n"
        "send.apply_async(**{'countdown': 900})\n"
        "context = {'countdown': countdown(deadline, now)}\n"
    )
    lines = sorted(int(p.split(": ", 1)[0].rpartition(":")[2]) for p in scheduling_problems(sample, "sample"))
    assert lines == [1, 3, 4, 5, 9, 10]


def test_no_code_queues_a_task_further_ahead_than_a_few_minutes():
    files = _source_files()
    assert ROOT / "crm" / "tasks.py" in files and ROOT / "handover" / "tasks.py" in files
    problems = [p for path in files for p in scheduling_problems(path.read_text(), str(path.relative_to(ROOT)))]
    assert problems == []
    # And the plain grep the rule is usually checked with: no `eta=` / `countdown=` argument.
    grep = re.compile(r"(?<![\w.])(eta|countdown)\s*=(?!=)")
    assert [f"{p.relative_to(ROOT)}: {line.strip()}" for p in files for line in p.read_text().splitlines()
            if grep.search(line)] == []


# --- Queued on commit only (reliability 24) ----------------------------------------------------


@pytest.fixture
def task_runs() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Every task run in this process (tests run them eagerly, when their on_commit fires)."""
    runs: list[tuple[str, tuple[Any, ...]]] = []

    def record(sender: Any = None, args: Any = (), **kwargs: Any) -> None:
        runs.append((sender.name, tuple(args or ())))

    task_prerun.connect(record, weak=False)
    try:
        yield runs
    finally:
        task_prerun.disconnect(record)


class Abort(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_notice_sent_now_in_a_rolled_back_transaction_queues_nothing(builder, task_runs, mailoutbox):
    with pytest.raises(Abort), transaction.atomic():
        notices.notice_schedule(kind=KIND, key="rolled-back", target="test.outbox:1", send_now=True)
        assert Notice.objects.get(key="rolled-back").state == Notice.State.CLAIMED  # queued on commit only
        assert task_runs == []
        raise Abort

    # A savepoint rolled back inside a transaction that commits: its sends are dropped with it.
    with transaction.atomic():
        with pytest.raises(Abort), transaction.atomic():
            notices.notice_schedule(kind=KIND, key="savepoint", target="test.outbox:2", send_now=True)
            raise Abort
        _owe("unrelated", due_at=T0 + timedelta(days=3650))

    assert task_runs == [] and mailoutbox == []
    assert not Notice.objects.filter(key__in=["rolled-back", "savepoint"]).exists()

    # The same call in a transaction that commits is queued once, after the commit, and sent.
    with transaction.atomic():
        notice = notices.notice_schedule(kind=KIND, key="committed", target="test.outbox:3", send_now=True)
        assert notice is not None and task_runs == []
    assert task_runs == [("crm.tasks.deliver_notice", (notice.pk,))]
    assert [m.subject for m in mailoutbox] == ["Notice committed"]
    assert Notice.objects.get(pk=notice.pk).state == Notice.State.SENT


# --- The admin: where staff see failed notices ---------------------------------------------------


@pytest.mark.django_db
def test_the_admin_lists_failed_notices_and_retries_them(builder):
    failed = _owe("touchpoints.reminder:41:1", due_at=T0)
    Notice.objects.filter(pk=failed.pk).update(state=Notice.State.FAILED, attempts=6, last_error="SMTPException: 421")
    sent = _owe("touchpoints.reminder:42:1", due_at=T0)
    Notice.objects.filter(pk=sent.pk).update(state=Notice.State.SENT, sent_at=T0, attempts=1)
    root = User.objects.create_superuser("root", "root@vendor.example", "pw")
    client = client_for(root)
    changelist = reverse("admin:outbox_notice_changelist")

    page = client.get(changelist, {"state__exact": "failed"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "touchpoints.reminder:41:1" in html and "SMTPException: 421" in html
    assert "touchpoints.reminder:42:1" not in html  # filtered out
    assert "Retry the selected failed notices" in html
    # Each row is read-only: nothing can be saved over what the sender wrote.
    detail = client.get(reverse("admin:outbox_notice_change", args=[failed.pk]))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.post(reverse("admin:outbox_notice_change", args=[failed.pk]), {"state": "pending"}).status_code == 403
    assert client.get(reverse("admin:outbox_notice_add")).status_code == 403

    response = client.post(
        changelist, {"action": "retry", "index": 0, "_selected_action": [failed.pk, sent.pk]}, follow=True
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 notice owed again: the next dispatch sends it." in text and "1 selected notice had not failed" in text
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.claimed_at) == (Notice.State.PENDING, 0, None)
    assert failed.due_at <= timezone.now()
    assert Notice.objects.get(pk=sent.pk).state == Notice.State.SENT


@pytest.mark.django_db
def test_staff_who_may_only_view_notices_cannot_retry_them(builder):
    failed = _owe("touchpoints.reminder:43:1", due_at=T0)
    Notice.objects.filter(pk=failed.pk).update(state=Notice.State.FAILED, attempts=6)
    support = make_user("support", is_staff=True)
    support.user_permissions.add(Permission.objects.get(codename="view_notice"))
    client = client_for(support)
    changelist = reverse("admin:outbox_notice_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and "touchpoints.reminder:43:1" in page.content.decode()
    assert "Retry the selected failed notices" not in page.content.decode()
    client.post(changelist, {"action": "retry", "index": 0, "_selected_action": [failed.pk]})
    assert Notice.objects.get(pk=failed.pk).state == Notice.State.FAILED
