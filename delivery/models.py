"""Delivery stage by stage with the customer's sign-off, and the problems traced to promises
(product.md section 3). State is declared here; every write goes through delivery.services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from core.text import MultiLineTextField, SingleLineCharField
from crm.models import Account, Contact, Deal, visible_through_account
from customer_links.models import CustomerLink
from handover.models import Handover, Promise

User = settings.AUTH_USER_MODEL


class PlanTemplate(models.Model):
    """A delivery plan: ordered stages, edited by administrators in the admin."""

    name = SingleLineCharField(max_length=120, unique=True)
    description = MultiLineTextField(blank=True, max_length=2000)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PlanTemplateStage(models.Model):
    template = models.ForeignKey(PlanTemplate, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveSmallIntegerField()
    name = SingleLineCharField(max_length=120)
    description = MultiLineTextField(blank=True, max_length=2000)
    needs_signoff = models.BooleanField("customer signs it off", default=True)
    signer_role = SingleLineCharField(
        "signed off by (contact role)",
        max_length=20,
        choices=Contact.Role.choices,
        blank=True,
        help_text="Empty: any active contact of the account may be asked.",
    )
    duration_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(0), MaxValueValidator(365)],
        help_text="Days this stage takes; due dates follow from acceptance, stage after stage.",
    )

    class Meta:
        ordering = ["template", "position"]
        constraints = [models.UniqueConstraint(fields=["template", "position"], name="plan_stage_position_once")]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: Any) -> ProjectQuerySet:
        return visible_through_account(self, user)  # type: ignore[no-any-return]


class Project(FSMModelMixin, models.Model):
    """The delivery of one accepted handover."""

    class State(models.TextChoices):
        ACTIVE = "active", "In delivery"
        COMPLETE = "complete", "Complete"

    handover = models.OneToOneField(Handover, on_delete=models.PROTECT, related_name="project")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="projects")
    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="projects")
    # The delivery owner; moves with the account when a manager reassigns it.
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="projects")
    template = models.ForeignKey(PlanTemplate, on_delete=models.PROTECT, related_name="projects")
    state = FSMField(max_length=10, choices=State.choices, default=State.ACTIVE, protected=True)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["owner", "state"], name="project_owner_state")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="complete", completed_at__isnull=False)
                | Q(state="active", completed_at__isnull=True),
                name="project_completed_at_iff_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Delivery of {self.deal}"

    @transition(field=state, source=State.ACTIVE, target=State.COMPLETE)
    def complete(self) -> None:
        self.completed_at = timezone.now()


def _needs_signoff(stage: Any) -> bool:
    return bool(stage.needs_signoff)


def _no_signoff(stage: Any) -> bool:
    return not stage.needs_signoff


class StageQuerySet(models.QuerySet["Stage"]):
    def visible_to(self, user: Any) -> StageQuerySet:
        return self.filter(project__in=Project.objects.visible_to(user))


class Stage(FSMModelMixin, models.Model):
    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        AWAITING_SIGNOFF = "awaiting_signoff", "Awaiting sign-off"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        SIGNED_OFF = "signed_off", "Signed off"
        DONE = "done", "Done"

    FINAL_STATES = [State.SIGNED_OFF, State.DONE]

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="stages")
    # The project's account, copied so visibility needs no join.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    name = SingleLineCharField(max_length=120)
    description = MultiLineTextField(blank=True, max_length=2000)
    needs_signoff = models.BooleanField(default=True)
    signer_role = models.CharField(max_length=20, choices=Contact.Role.choices, blank=True)
    due_date = models.DateField(null=True, blank=True)
    promises = models.ManyToManyField(Promise, blank=True, related_name="stages")
    state = FSMField(max_length=20, choices=State.choices, default=State.PLANNED, protected=True)
    # What was delivered, as shown to the customer on the sign-off page.
    delivered = MultiLineTextField("what was delivered", blank=True, max_length=5000)
    signer = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    signoff_requested_at = models.DateTimeField(null=True, blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    changes_reason = MultiLineTextField(blank=True, max_length=5000)

    objects = StageQuerySet.as_manager()

    class Meta:
        ordering = ["project", "position"]
        indexes = [models.Index(fields=["state", "signoff_requested_at"], name="stage_state_requested")]
        constraints = [
            models.UniqueConstraint(fields=["project", "position"], name="stage_position_once"),
            models.CheckConstraint(
                condition=Q(state="signed_off", signed_off_at__isnull=False)
                | (~Q(state="signed_off") & Q(signed_off_at__isnull=True)),
                name="stage_signed_off_at_iff_signed_off",
            ),
            models.CheckConstraint(
                condition=~Q(state="signed_off") | Q(needs_signoff=True), name="stage_signed_off_needs_signoff"
            ),
            models.CheckConstraint(
                condition=~Q(state="done") | Q(needs_signoff=False), name="stage_done_without_signoff"
            ),
            models.CheckConstraint(
                condition=~Q(state="awaiting_signoff") | Q(signer__isnull=False, signoff_requested_at__isnull=False),
                name="stage_awaiting_has_signer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @transition(field=state, source=[State.PLANNED, State.CHANGES_REQUESTED], target=State.IN_PROGRESS)
    def start(self) -> None:
        self.started_at = self.started_at or timezone.now()

    @transition(
        field=state,
        source=[State.IN_PROGRESS, State.AWAITING_SIGNOFF],
        target=State.AWAITING_SIGNOFF,
        conditions=[_needs_signoff],
    )
    def request_signoff(self, *, signer: Contact) -> None:
        self.signer = signer
        self.signoff_requested_at = timezone.now()

    @transition(field=state, source=State.AWAITING_SIGNOFF, target=State.SIGNED_OFF)
    def sign_off(self) -> None:
        self.signed_off_at = timezone.now()

    @transition(field=state, source=State.AWAITING_SIGNOFF, target=State.CHANGES_REQUESTED)
    def request_changes(self, *, reason: str) -> None:
        self.changes_reason = reason

    @transition(
        field=state,
        source=State.IN_PROGRESS,
        target=State.DONE,
        conditions=[_no_signoff],
    )
    def complete(self) -> None:
        self.done_at = timezone.now()


class SignOff(models.Model):
    """The customer's answer on a sign-off link: signed off, or changes requested with a reason."""

    class Decision(models.TextChoices):
        SIGNED_OFF = "signed_off", "Signed off"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"

    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="signoffs")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    # One answer per link: backs the link's single use in the database.
    link = models.OneToOneField(CustomerLink, on_delete=models.PROTECT, related_name="signoff")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    typed_name = SingleLineCharField(max_length=200)
    # Someone other than the named signer answered for them: who they are and their role. Blank
    # when the signer answered in person (their typed name then matched the contact's).
    on_behalf_name = SingleLineCharField(max_length=200, blank=True)
    on_behalf_role = SingleLineCharField(max_length=200, blank=True)
    reason = MultiLineTextField(blank=True, max_length=5000)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(decision="changes_requested") | ~Q(reason=""), name="signoff_changes_have_reason"
            ),
            models.CheckConstraint(condition=~Q(typed_name=""), name="signoff_has_typed_name"),
            models.CheckConstraint(
                condition=Q(on_behalf_name="", on_behalf_role="") | (~Q(on_behalf_name="") & ~Q(on_behalf_role="")),
                name="signoff_on_behalf_has_name_and_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.typed_name}"

    @property
    def is_on_behalf(self) -> bool:
        return bool(self.on_behalf_name)


class ProblemQuerySet(models.QuerySet["Problem"]):
    def visible_to(self, user: Any) -> ProblemQuerySet:
        return visible_through_account(self, user)  # type: ignore[no-any-return]

    def unresolved(self) -> ProblemQuerySet:
        return self.filter(state=Problem.State.OPEN)


class Problem(FSMModelMixin, models.Model):
    """Something that went wrong after the sale, traced through its promises to who made them."""

    class Category(models.TextChoices):
        OVERSOLD = "oversold", "Oversold"
        MISUNDERSTOOD = "misunderstood", "Expectation misunderstood"
        DELIVERY_DEFECT = "delivery_defect", "Delivery defect"
        PRODUCT_DEFECT = "product_defect", "Product defect"
        CUSTOMER_CHANGE = Promise.CUSTOMER_SIDE_CHANGE, "Customer-side change"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class Source(models.TextChoices):
        STAFF = "staff", "Staff"
        CUSTOMER = "customer", "Customer"
        CHECKUP = "checkup", "Check-up"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="problems")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT, related_name="problems")
    title = SingleLineCharField(max_length=200)
    description = MultiLineTextField(blank=True, max_length=10000)
    category = models.CharField(max_length=20, choices=Category.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    promises = models.ManyToManyField(Promise, blank=True, related_name="problems")
    state = FSMField(max_length=10, choices=State.choices, default=State.OPEN, protected=True)
    raised_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="problems_raised")
    raised_by_label = SingleLineCharField(max_length=200, blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    resolution = MultiLineTextField(blank=True, max_length=5000)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)

    objects = ProblemQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "severity"], name="problem_state_severity"),
            models.Index(fields=["account", "state"], name="problem_account_state"),
            models.Index(fields=["category", "raised_at"], name="problem_category_raised"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="open", resolved_at__isnull=True)
                | Q(state__in=["resolved", "closed"], resolved_at__isnull=False),
                name="problem_resolved_at_iff_resolved",
            ),
            models.CheckConstraint(condition=Q(state="open") | ~Q(resolution=""), name="problem_resolution_has_text"),
            models.CheckConstraint(
                condition=Q(raised_by__isnull=False) | ~Q(raised_by_label=""), name="problem_has_raiser"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.raised_at if self.resolved_at else None

    @property
    def breaks_promises(self) -> bool:
        return Promise.broken_by_problem(self.category)

    @transition(field=state, source=State.OPEN, target=State.RESOLVED)
    def resolve(self, *, resolution: str, by: Any) -> None:
        self.resolution = resolution
        self.resolved_at = timezone.now()
        self.resolved_by = by

    @transition(field=state, source=State.RESOLVED, target=State.CLOSED)
    def close(self) -> None:
        self.closed_at = timezone.now()

    @transition(field=state, source=[State.RESOLVED, State.CLOSED], target=State.OPEN)
    def reopen(self) -> None:
        self.resolved_at = None
        self.resolved_by = None
        self.closed_at = None
        self.reopen_count += 1
