"""The outbox's one table: what the product owes someone, and when."""

from __future__ import annotations

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
