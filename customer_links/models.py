"""The customer link: one signed, single-purpose link emailed to a customer contact."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core import targets
from crm.models import Account, Contact

User = settings.AUTH_USER_MODEL


class CustomerLink(models.Model):
    """A link emailed to a customer contact: a sign-off, a check-up survey or the account's
    portal. One mechanism for every app (Django's password-reset pattern): the raw token (256
    bits) is only ever in the email; the database keeps its SHA-256. Scoped to one purpose, one
    target object and one contact; expires; single use unless it is a portal link; issuing a new
    link for the same purpose and target revokes the live one."""

    class Purpose(models.TextChoices):
        SIGNOFF = "signoff", "Stage sign-off"
        SURVEY = "survey", "Check-up survey"
        PORTAL = "portal", "Customer portal"

    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="customer_links")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="links")
    # What the link acts on, as "<app_label>.<model>:<pk>" (a stage, a touchpoint, the account).
    target = models.CharField(max_length=80)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    reusable = models.BooleanField(default=False)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set once when the link is emailed, in the transaction of the outbox notice that sends it
    # (its own "customer_links.email", or the survey or sign-off reminder that issued it).
    emailed_at = models.DateTimeField(null=True, blank=True)
    # Set when the link's email could not be sent and will not be retried, with the error: the
    # staff page and the admin show it, and sending a new link is the way out.
    email_failed_at = models.DateTimeField(null=True, blank=True, editable=False)
    email_error = models.TextField(blank=True, editable=False)
    # Set once when the customer asks for a fresh link from an expired or used one.
    renewal_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "crm_customerlink"  # the table it had in crm; kept so databases move in place
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["purpose", "target"], name="link_purpose_target")]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "target"],
                condition=Q(revoked_at__isnull=True, used_at__isnull=True),
                name="link_one_live_per_target",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="link_expires_after_creation"
            ),
            models.CheckConstraint(
                condition=Q(reusable=False) | Q(used_at__isnull=True), name="link_reusable_never_used"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} link for {self.target}"

    @staticmethod
    def target_of(obj: Any) -> str:
        return targets.target_of(obj)

    @staticmethod
    def target_pk(target: str) -> int:
        return targets.target_pk(target)
