"""The outbox's tables: what the product owes someone and when, each staff user's copy of it in
the bell, and who chose the bell without the email."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Notice(models.Model):
    """One email (or set of emails) the product owes someone at a time: the outbox that every
    reminder, escalation, digest and alert goes through. Due times live here, never in a Celery
    ETA. The dispatcher claims due rows (select_for_update skip_locked), the sender marks them
    sent in the same transaction as the send; `key` is unique, so nothing is owed twice."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Claimed"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "No longer needed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=60)
    key = models.CharField(max_length=200, unique=True)
    # What the notice is about ("<app_label>.<model>:<pk>"), for the builder and for cancelling.
    target = models.CharField(max_length=80)
    data = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The sender holding a claimed row: "" while its send waits in the broker, then the worker
    # that took it ("host pid task-id run") and until when, renewed while that worker is alive
    # (outbox.notices.LEASE). A claimed row whose lease ran out is the dispatcher's to claim again.
    claimed_by = models.CharField(max_length=200, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "crm_notice"  # the table it had in crm; kept so databases move in place
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["due_at"], name="notice_pending_due", condition=Q(state="pending")),
            models.Index(fields=["claimed_at"], name="notice_claimed", condition=Q(state="claimed")),
            models.Index(fields=["lease_until"], name="notice_leased", condition=Q(state="claimed")),
            models.Index(fields=["target", "state"], name="notice_target_state"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False), name="notice_sent_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(state="claimed") | Q(claimed_at__isnull=False), name="notice_claim_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.get_state_display()})"


class Notification(models.Model):
    """A sent notice in one staff user's bell: the second channel of the same outbox row. The
    sender writes it in the transaction that marks the notice sent (outbox.notices.deliver), one
    per (notice, user), so there is no bell entry without its notice nor a staff email without
    its entry; `emailed` says whether the email went too (False when the user chose the bell
    alone for this kind)."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=60)
    title = models.CharField(max_length=250)
    # The page the email opens, as a path on this site ("" when it opens none).
    link = models.CharField(max_length=500, blank=True)
    emailed = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notification_latest"),
            # The header's unread count on every page: a user's unread rows only.
            models.Index(fields=["user"], name="notification_unread", condition=Q(read_at__isnull=True)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["notice", "user"], name="notification_once_per_user"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def topic_label(self) -> str:
        from outbox.notices import topic_of

        topic = topic_of(self.kind)
        return topic.label if topic is not None else ""


class EmailOptOut(models.Model):
    """A user who wants a topic's notices in their bell only, without the email (the default,
    with no row, is both)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_opt_outs")
    topic = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "topic"], name="email_opt_out_once")]

    def __str__(self) -> str:
        return f"{self.user_id}: no {self.topic} emails"
