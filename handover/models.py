"""Promises made while selling, their reviews, and the handover package that carries them from
the rep who sold to the person who delivers (product.md section 2)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from core.text import MultiLineTextField, SingleLineCharField
from crm.models import Account, Contact, Deal, visible_through_account

User = settings.AUTH_USER_MODEL


class PromiseQuerySet(models.QuerySet["Promise"]):
    def visible_to(self, user: Any) -> PromiseQuerySet:
        return visible_through_account(self, user)  # type: ignore[no-any-return]

    def with_reviews(self) -> PromiseQuerySet:
        return self.select_related("made_by", "made_to", "deal").prefetch_related(
            models.Prefetch(
                "reviews", queryset=PromiseReview.objects.select_related("reviewer").order_by("created_at", "pk")
            )
        )


class Promise(FSMModelMixin, models.Model):
    """What the customer was told they would get. The maker is frozen when it is recorded."""

    class Kind(models.TextChoices):
        DELIVERABLE = "deliverable", "Deliverable"
        TIMELINE = "timeline", "Timeline"
        SERVICE_LEVEL = "service_level", "Service level"
        COMMERCIAL = "commercial", "Commercial"
        SUPPORT = "support", "Support"
        INTEGRATION = "integration", "Integration"
        OTHER = "other", "Other"

    class Source(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        PROPOSAL = "proposal", "Proposal"
        DEMO = "demo", "Demo"
        OTHER = "other", "Other"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        RESET = "reset", "Expectation reset"
        WITHDRAWN = "withdrawn", "Withdrawn"
        KEPT = "kept", "Kept"
        BROKEN = "broken", "Broken"

    OPEN_STATES = [State.ACTIVE, State.RESET]
    # When a promise is broken, in one place (handover.services.promises_break applies it): a
    # problem breaks the promises it names unless the customer changed their side of the deal
    # (the problem category below), only once the promise's handover is accepted, and only an
    # active, reset or kept promise (a kept one can still turn out broken).
    BREAKABLE_STATES = [State.ACTIVE, State.RESET, State.KEPT]
    CUSTOMER_SIDE_CHANGE = "customer_change"

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="promises")
    # The deal's account, copied so visibility and the timeline need no join through the deal.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="promises")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = MultiLineTextField(max_length=5000)
    made_to = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="promises")
    due_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    source_reference = SingleLineCharField(max_length=200, blank=True)
    # Frozen: reassignment never changes who made a promise (attribution of later problems).
    made_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="promises_made")
    made_at = models.DateTimeField(default=timezone.now)
    state = FSMField(max_length=10, choices=State.choices, default=State.ACTIVE, protected=True)
    # The documented expectation reset: what the customer now expects, who agreed, when.
    reset_expectation = MultiLineTextField(blank=True, max_length=5000)
    reset_agreed_by = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reset_agreed_on = models.DateField(null=True, blank=True)
    withdrawn_reason = MultiLineTextField(blank=True, max_length=2000)
    outcome_at = models.DateTimeField(null=True, blank=True)

    objects = PromiseQuerySet.as_manager()

    class Meta:
        ordering = ["made_at", "pk"]
        indexes = [models.Index(fields=["deal", "state"], name="promise_deal_state")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="reset") | (Q(reset_agreed_on__isnull=False) & ~Q(reset_expectation="")),
                name="promise_reset_is_documented",
            ),
            models.CheckConstraint(
                condition=~Q(state="withdrawn") | ~Q(withdrawn_reason=""), name="promise_withdrawal_has_reason"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["kept", "broken"], outcome_at__isnull=False)
                | (~Q(state__in=["kept", "broken"]) & Q(outcome_at__isnull=True)),
                name="promise_outcome_at_iff_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.description[:60]}"

    def latest_review(self, kind: str) -> PromiseReview | None:
        """The review that counts (the latest of its kind); uses prefetched reviews when present."""
        reviews = [r for r in self.reviews.all() if r.kind == kind]
        return reviews[-1] if reviews else None

    @property
    def latest_sales_review(self) -> PromiseReview | None:
        return self.latest_review(PromiseReview.Kind.SALES)

    @property
    def latest_feasibility_review(self) -> PromiseReview | None:
        return self.latest_review(PromiseReview.Kind.FEASIBILITY)

    @property
    def is_resolved_by_customer(self) -> bool:
        """Reset with the customer or withdrawn: a bad review no longer blocks the handover."""
        return self.state in (self.State.RESET, self.State.WITHDRAWN) or bool(self.reset_expectation)

    @transition(field=state, source=State.ACTIVE, target=State.RESET)
    def reset(self, *, expectation: str, agreed_by: Contact | None, agreed_on: Any) -> None:
        self.reset_expectation = expectation
        self.reset_agreed_by = agreed_by
        self.reset_agreed_on = agreed_on

    @transition(field=state, source=[State.ACTIVE, State.RESET], target=State.WITHDRAWN)
    def withdraw(self, *, reason: str) -> None:
        self.withdrawn_reason = reason

    @transition(field=state, source=[State.ACTIVE, State.RESET], target=State.KEPT)
    def mark_kept(self) -> None:
        self.outcome_at = timezone.now()

    @classmethod
    def broken_by_problem(cls, category: str) -> bool:
        """Whether a problem of `category` breaks the promises it names."""
        return category != cls.CUSTOMER_SIDE_CHANGE

    @transition(field=state, source=BREAKABLE_STATES, target=State.BROKEN)
    def mark_broken(self) -> None:
        self.outcome_at = timezone.now()


class PromiseReview(models.Model):
    """One review of a promise. Every review is kept; the latest of each kind counts."""

    class Kind(models.TextChoices):
        SALES = "sales", "Sales review"
        FEASIBILITY = "feasibility", "Feasibility review"

    class Verdict(models.TextChoices):
        OK = "ok", "OK"
        AT_RISK = "at_risk", "At risk"
        NOT_ACCEPTABLE = "not_acceptable", "Not acceptable"
        FEASIBLE = "feasible", "Feasible"
        NOT_FEASIBLE = "not_feasible", "Not feasible"

    VERDICTS = {
        Kind.SALES: [Verdict.OK, Verdict.AT_RISK, Verdict.NOT_ACCEPTABLE],
        Kind.FEASIBILITY: [Verdict.FEASIBLE, Verdict.AT_RISK, Verdict.NOT_FEASIBLE],
    }

    promise = models.ForeignKey(Promise, on_delete=models.PROTECT, related_name="reviews")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    comment = MultiLineTextField(blank=True, max_length=2000)
    reviewer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="sales", verdict__in=["ok", "at_risk", "not_acceptable"])
                | Q(kind="feasibility", verdict__in=["feasible", "at_risk", "not_feasible"]),
                name="review_verdict_fits_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_verdict_display()}"


class HandoverQuerySet(models.QuerySet["Handover"]):
    def visible_to(self, user: Any) -> HandoverQuerySet:
        return visible_through_account(self, user)  # type: ignore[no-any-return]

    def overdue(self, now: Any) -> HandoverQuerySet:
        return self.filter(state=Handover.State.SALES_APPROVED, accept_deadline__lt=now)


class Handover(FSMModelMixin, models.Model):
    """The package for one won deal, from draft to accepted by delivery."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        SALES_APPROVED = "sales_approved", "Approved by sales"
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned by sales"
        REJECTED = "rejected", "Rejected by delivery"

    EDITABLE_STATES = [State.DRAFT, State.RETURNED, State.REJECTED]

    deal = models.OneToOneField(Deal, on_delete=models.PROTECT, related_name="handover")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="handovers")
    # The rep preparing the handover; moves with the account while the handover is open.
    rep = models.ForeignKey(User, on_delete=models.PROTECT, related_name="handovers")
    state = FSMField(max_length=20, choices=State.choices, default=State.DRAFT, protected=True)
    purchased = MultiLineTextField("what was purchased", blank=True, max_length=10000)
    customer_expectations = MultiLineTextField(
        "the customer's expectations, in their words", blank=True, max_length=10000
    )
    risks = MultiLineTextField(blank=True, max_length=5000)
    meeting_at = models.DateTimeField("handover meeting", null=True, blank=True)
    meeting_minutes = MultiLineTextField(blank=True, max_length=10000)
    meeting_held = models.BooleanField(default=False)
    vendor_attendees: models.ManyToManyField[Any, Any] = models.ManyToManyField(User, blank=True, related_name="+")
    customer_attendees = models.ManyToManyField(Contact, blank=True, related_name="+")
    proposed_delivery_owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    delivery_owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="deliveries")
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    accept_deadline = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    # Set once when the escalation notice is sent (its prepare step): escalated exactly once.
    escalated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set once the acceptance emails are sent (by the outcome of the outbox notice
    # "handover.acceptance", which is what owes them once).
    acceptance_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the acceptance emails could not be sent and will not be retried, with the error,
    # shown on the handover's page and in the admin.
    acceptance_email_failed_at = models.DateTimeField(null=True, blank=True, editable=False)
    acceptance_email_error = models.TextField(blank=True, editable=False)
    last_reason = MultiLineTextField(blank=True, max_length=2000)

    objects = HandoverQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "accept_deadline"], name="handover_state_deadline"),
            models.Index(fields=["rep", "state"], name="handover_rep_state"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="accepted") | Q(delivery_owner__isnull=False, accepted_at__isnull=False),
                name="handover_accepted_has_owner",
            ),
            models.CheckConstraint(
                condition=~Q(state="sales_approved") | Q(accept_deadline__isnull=False, approved_at__isnull=False),
                name="handover_approved_has_deadline",
            ),
        ]

    def __str__(self) -> str:
        return f"Handover of {self.deal}"

    @property
    def is_editable(self) -> bool:
        return self.state in self.EDITABLE_STATES

    @transition(field=state, source=EDITABLE_STATES, target=State.SUBMITTED)
    def submit(self) -> None:
        self.submitted_at = timezone.now()

    @transition(field=state, source=State.SUBMITTED, target=State.SALES_APPROVED)
    def approve(self, *, deadline: Any) -> None:
        self.approved_at = timezone.now()
        self.accept_deadline = deadline

    @transition(field=state, source=State.SUBMITTED, target=State.RETURNED)
    def return_to_rep(self, *, reason: str) -> None:
        self.last_reason = reason

    @transition(field=state, source=State.SALES_APPROVED, target=State.ACCEPTED)
    def accept(self, *, delivery_owner: Any) -> None:
        self.delivery_owner = delivery_owner
        self.accepted_at = timezone.now()

    @transition(field=state, source=State.SALES_APPROVED, target=State.REJECTED)
    def reject(self, *, reason: str) -> None:
        self.last_reason = reason
        self.accept_deadline = None
        self.approved_at = None


class HandoverContact(models.Model):
    """A customer contact named for delivery, with their role in it."""

    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="contacts")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    delivery_role = SingleLineCharField(max_length=120, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["handover", "contact"], name="handover_contact_once")]

    def __str__(self) -> str:
        return f"{self.contact} ({self.delivery_role})"
