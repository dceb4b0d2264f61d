"""Check-ups that keep the relationship warm (product.md section 4): agenda templates, the
touchpoints scheduled from them, outcomes, customer surveys and private calendar feeds.
State is declared here; every write goes through touchpoints.services."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from core.text import MultiLineTextField, SingleLineCharField
from crm.models import Account, Contact, visible_through_account
from customer_links.models import CustomerLink
from delivery.models import Problem, Project
from handover.models import Handover

User = settings.AUTH_USER_MODEL


class Kind(models.TextChoices):
    THANK_YOU = "thank_you", "Thank-you note"
    DELIVERY_CONFIRMATION = "delivery_confirmation", "Delivery confirmation"
    CHECKUP_CALL = "checkup_call", "Check-up call"
    TRAINING_CHECK = "training_check", "Training check"
    REVIEW_MEETING = "review_meeting", "Review meeting"
    RENEWAL = "renewal", "Renewal / next sale"


# The rep keeps the relationship for these; the delivery owner runs the rest.
REP_KINDS = {Kind.THANK_YOU, Kind.RENEWAL}
MEETING_KINDS = {Kind.REVIEW_MEETING}


class Channel(models.TextChoices):
    PREFERRED = "preferred", "Contact's preferred channel"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    VIDEO = "video", "Video call"
    VISIT = "visit", "Visit"


class AgendaTemplate(models.Model):
    """Steps scheduled for every accepted handover (administrators edit them in the admin)."""

    name = SingleLineCharField(max_length=120, unique=True)
    description = MultiLineTextField(blank=True, max_length=2000)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgendaStep(models.Model):
    class Anchor(models.TextChoices):
        ACCEPTED = "accepted", "Handover accepted"
        GO_LIVE = "go_live", "Go-live (last stage signed off)"

    template = models.ForeignKey(AgendaTemplate, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    anchor = models.CharField(max_length=10, choices=Anchor.choices, default=Anchor.ACCEPTED)
    offset_days = models.PositiveSmallIntegerField(validators=[MaxValueValidator(730)])
    kind = models.CharField(max_length=30, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PREFERRED)
    objectives = MultiLineTextField(max_length=2000)
    sends_survey = models.BooleanField("emails the customer a survey", default=False)

    class Meta:
        ordering = ["template", "position"]
        constraints = [models.UniqueConstraint(fields=["template", "position"], name="agenda_step_position_once")]

    def __str__(self) -> str:
        return f"Day {self.offset_days} after {self.get_anchor_display().lower()}: {self.get_kind_display()}"


class TouchpointQuerySet(models.QuerySet["Touchpoint"]):
    def visible_to(self, user: Any) -> TouchpointQuerySet:
        return visible_through_account(self, user)  # type: ignore[no-any-return]

    def open(self) -> TouchpointQuerySet:
        return self.filter(state=Touchpoint.State.SCHEDULED)


class Touchpoint(FSMModelMixin, models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        DONE = "done", "Done"
        MISSED = "missed", "Missed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="touchpoints")
    handover = models.ForeignKey(Handover, null=True, blank=True, on_delete=models.PROTECT, related_name="touchpoints")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT, related_name="touchpoints")
    step = models.ForeignKey(AgendaStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    title = SingleLineCharField(max_length=200)
    objectives = MultiLineTextField(blank=True, max_length=2000)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="touchpoints")
    # None when no contact may be contacted (all do-not-contact or gone).
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="touchpoints")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    due_at = models.DateTimeField()
    sends_survey = models.BooleanField(default=False)
    # Bumped by each reschedule: reminders are keyed by it, so a new due time owes new reminders.
    version = models.PositiveIntegerField(default=1)
    state = FSMField(max_length=10, choices=State.choices, default=State.SCHEDULED, protected=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The outcome, recorded when done.
    satisfaction = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    as_expected = models.BooleanField("was everything as expected?", null=True, blank=True)
    notes = MultiLineTextField(blank=True, max_length=5000)
    reason = MultiLineTextField(blank=True, max_length=2000)  # why skipped or cancelled
    completed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # A follow-up created from another touchpoint's outcome.
    follow_up_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups")

    objects = TouchpointQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["owner", "state", "due_at"], name="touchpoint_owner_due"),
            models.Index(fields=["account", "due_at"], name="touchpoint_account_due"),
            models.Index(fields=["state", "due_at"], name="touchpoint_state_due"),
            # One agenda step's check-ups due in a period (insights: the day-30 reviews).
            models.Index(fields=["step", "due_at"], name="touchpoint_step_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="scheduled", closed_at__isnull=True)
                | Q(~Q(state="scheduled"), closed_at__isnull=False),
                name="touchpoint_closed_at_iff_closed",
            ),
            models.CheckConstraint(
                # A thank-you note is sent, not a conversation: it records no satisfaction score.
                condition=~Q(state="done")
                | Q(Q(satisfaction__isnull=False) | Q(kind="thank_you"), as_expected__isnull=False),
                name="touchpoint_done_has_outcome",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="touchpoint_satisfaction_1_to_5",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["skipped", "cancelled"]) | ~Q(reason=""), name="touchpoint_skip_has_reason"
            ),
            # One touchpoint per agenda step per handover: scheduling twice creates nothing.
            models.UniqueConstraint(fields=["handover", "step"], name="touchpoint_step_once_per_handover"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.due_at:%Y-%m-%d})"

    @property
    def is_meeting(self) -> bool:
        return self.kind in MEETING_KINDS or self.channel in (Channel.VIDEO, Channel.VISIT)

    @transition(field=state, source=State.SCHEDULED, target=State.DONE)
    def complete(self, *, satisfaction: int | None, as_expected: bool, notes: str, by: Any) -> None:
        self.satisfaction = satisfaction
        self.as_expected = as_expected
        self.notes = notes
        self.completed_by = by
        self.closed_at = timezone.now()

    @transition(field=state, source=State.SCHEDULED, target=State.SKIPPED)
    def skip(self, *, reason: str) -> None:
        self.reason = reason
        self.closed_at = timezone.now()

    @transition(field=state, source=State.SCHEDULED, target=State.CANCELLED)
    def cancel(self, *, reason: str) -> None:
        self.reason = reason
        self.closed_at = timezone.now()

    @transition(field=state, source=State.SCHEDULED, target=State.MISSED)
    def miss(self) -> None:
        self.closed_at = timezone.now()


class SurveyResponse(models.Model):
    """The customer's answer to a check-up survey, recorded once per link."""

    touchpoint = models.OneToOneField(Touchpoint, on_delete=models.PROTECT, related_name="survey_response")
    link = models.OneToOneField(CustomerLink, on_delete=models.PROTECT, related_name="survey_response")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    satisfaction = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    as_expected = models.BooleanField()
    comment = MultiLineTextField(blank=True, max_length=5000)
    is_complaint = models.BooleanField(default=False)
    problem = models.ForeignKey(Problem, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__gte=1, satisfaction__lte=5), name="survey_satisfaction_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"Survey {self.satisfaction}/5 for {self.touchpoint}"

    @property
    def is_alarming(self) -> bool:
        return self.satisfaction <= 2 or not self.as_expected or self.is_complaint


class CalendarFeed(models.Model):
    """A user's private ICS feed: the token is in the feed URL (calendar apps cannot log in),
    stored hashed, shown once when made, revocable by making a new one."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"
