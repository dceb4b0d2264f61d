"""Customer relationships owned by the vendor: accounts, contacts, the account team, the
ownership ledger, deals and the activity timeline (product.md section 1).

State is declared here; every write goes through crm.services.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Upper
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, TransitionNotAllowed, transition

from core import search
from core.text import MultiLineTextField, SingleLineCharField, SingleLineEmailField, SingleLineURLField
from core.time_zones import validate_time_zone
from crm import roles
from crm.duplicate_keys import domain_key, name_key

User = settings.AUTH_USER_MODEL


class UserProfile(models.Model):
    """What the product needs to know about a vendor person beyond their login."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    phone = SingleLineCharField(max_length=40, blank=True)
    time_zone = SingleLineCharField(max_length=64, default="UTC", validators=[validate_time_zone])
    work_starts = models.TimeField(default="09:00")
    work_ends = models.TimeField(default="17:00")
    # Escalations (overdue handovers, missed check-ups) go to this person.
    manager = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(work_starts__lt=models.F("work_ends")), name="profile_working_hours_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class LoginSession(models.Model):
    """Which session keys belong to which user, so deactivation can end them all at once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Session of {self.user_id}"


# The fields `matching` looks in; each has a trigram index on PostgreSQL (migration 0010, which
# keeps them out of Meta.indexes: SQLite cannot build them).
ACCOUNT_SEARCH_FIELDS = ("name", "city", "industry")
CONTACT_SEARCH_FIELDS = ("first_name", "last_name", "email", "title")


class AccountQuerySet(models.QuerySet["Account"]):
    def visible_to(self, user: Any) -> AccountQuerySet:
        """Accounts the user may see: their current account teams, or all for managers."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if roles.sees_all_accounts(user):
            return self
        return self.on_team_of(user.pk)

    def on_team_of(self, user_id: Any) -> AccountQuerySet:
        """Accounts whose current team has the user: by the user's id."""
        on_team = AccountTeamMember.objects.filter(account=OuterRef("pk"), user_id=user_id, ended_at__isnull=True)
        return self.filter(Exists(on_team))

    def with_thread_counts(self) -> AccountQuerySet:
        """Annotates active customer contacts and current vendor people (for the single-thread flag)."""
        contacts = (
            Contact.objects.filter(account=OuterRef("pk"), is_active=True)
            .order_by()
            .values("account")
            .annotate(n=Count("pk"))
            .values("n")
        )
        people = (
            AccountTeamMember.objects.filter(account=OuterRef("pk"), ended_at__isnull=True)
            .order_by()
            .values("account")
            .annotate(n=Count("user", distinct=True))
            .values("n")
        )
        return self.annotate(
            active_contact_count=Coalesce(Subquery(contacts, output_field=models.IntegerField()), 0),
            vendor_people_count=Coalesce(Subquery(people, output_field=models.IntegerField()), 0),
        )

    def single_threaded(self) -> AccountQuerySet:
        """At most one active customer contact, or at most one vendor person (product.md 1)."""
        # The counts are annotations, which django-stubs cannot see through a custom method.
        return self.with_thread_counts().filter(  # type: ignore[misc]
            Q(active_contact_count__lte=1) | Q(vendor_people_count__lte=1)
        )

    def multi_threaded(self) -> AccountQuerySet:
        return self.with_thread_counts().filter(active_contact_count__gt=1, vendor_people_count__gt=1)  # type: ignore[misc]

    def owned_by(self, user: Any) -> AccountQuerySet:
        return self.filter(owner=user)

    def live(self) -> AccountQuerySet:
        """Neither archived nor merged into another account: what lists and search show by default."""
        return self.filter(archived_at__isnull=True, merged_into__isnull=True)

    def matching(self, query: str) -> AccountQuerySet:
        """Accounts whose name, city or industry holds every word of `query` (a typo in a name
        too, on PostgreSQL): the accounts list's search and the search app's."""
        return search.matching(self, query, fields=ACCOUNT_SEARCH_FIELDS, similar=("name",))


def visible_through_account(qs: Any, user: Any) -> Any:
    """Rows visible through their account (`Account.objects.visible_to`). Users who see every
    account skip the check, which would otherwise make the database visit every account on each
    list. For the others, EXISTS on the team row of each row's own account: the database probes
    the team by account id as it walks a list's sort index, where `account__in` (the accounts
    subquery) made it hash every account first (on 100k accounts and 300k contacts, a rep's
    contacts list went from about 42 ms to 16 ms, filtered by role from 174 ms to 28 ms)."""
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if roles.sees_all_accounts(user):
        return qs
    on_team = AccountTeamMember.objects.filter(
        account_id=OuterRef("account_id"), user_id=user.pk, ended_at__isnull=True
    )
    return qs.filter(Exists(on_team))


class Account(models.Model):
    """A customer organisation. The vendor owns it; `owner` is the current person responsible."""

    class Lifecycle(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        CUSTOMER = "customer", "Customer"
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active customer"
        CHURNED = "churned", "Churned"

    name = SingleLineCharField(max_length=200)
    website = SingleLineURLField(blank=True, max_length=300)
    industry = SingleLineCharField(max_length=100, blank=True)
    city = SingleLineCharField(max_length=100, blank=True)
    country = SingleLineCharField(max_length=100, blank=True)
    lifecycle = models.CharField(max_length=20, choices=Lifecycle.choices, default=Lifecycle.PROSPECT)
    notes = MultiLineTextField(blank=True, max_length=5000)
    # Denormalised from the ownership ledger for fast lists; only services write it, together
    # with a ledger row.
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_accounts")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Archived: hidden from lists and search by default, kept in history, restorable.
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Merged: a tombstone whose page redirects to the survivor.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, editable=False, on_delete=models.PROTECT, related_name="merged_from"
    )
    # What a new account is compared with before it is created (crm.duplicate_keys): written by
    # `refresh_duplicate_keys` in the services and by the bulk seeders, read by crm.duplicates.
    name_key = SingleLineCharField(max_length=200, blank=True, editable=False)
    domain_key = SingleLineCharField(max_length=300, blank=True, editable=False)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["owner", "name", "id"], name="account_owner_name"),
            models.Index(fields=["name", "id"], name="account_name"),
            models.Index(fields=["name_key"], name="account_name_key"),
            models.Index(fields=["domain_key"], name="account_domain_key", condition=~Q(domain_key="")),
        ]

    def __str__(self) -> str:
        return self.name

    def refresh_duplicate_keys(self) -> None:
        self.name_key = name_key(self.name)
        self.domain_key = domain_key(self.website)

    @property
    def is_tombstone(self) -> bool:
        return self.merged_into_id is not None

    @property
    def is_single_threaded(self) -> bool:
        """Needs `with_thread_counts()`; computed on demand otherwise."""
        contacts = getattr(self, "active_contact_count", None)
        if contacts is None:
            contacts = self.contacts.filter(is_active=True).count()
        people = getattr(self, "vendor_people_count", None)
        if people is None:
            people = self.team.current().values("user").distinct().count()
        return is_single_threaded(contacts, people)


def is_single_threaded(active_contacts: int, vendor_people: int) -> bool:
    """At most one active customer contact, or at most one vendor person (product.md 1)."""
    return active_contacts <= 1 or vendor_people <= 1


class ContactQuerySet(models.QuerySet["Contact"]):
    def visible_to(self, user: Any) -> ContactQuerySet:
        return visible_through_account(self, user)

    def active(self) -> ContactQuerySet:
        return self.filter(is_active=True)

    def emailable(self) -> ContactQuerySet:
        """`Contact.can_be_emailed`, in SQL."""
        return self.filter(is_active=True, do_not_contact=False).exclude(email="")

    def live(self) -> ContactQuerySet:
        """Neither archived nor merged into another contact: what lists and search show by default."""
        return self.filter(archived_at__isnull=True, merged_into__isnull=True)

    def matching(self, query: str) -> ContactQuerySet:
        """Contacts by name (a typo too, on PostgreSQL), email or job title, or by phone number
        in any notation ("+49 30 1234", "030-1234" and "(030) 1234" find the same person)."""
        return search.matching(
            self, query, fields=CONTACT_SEARCH_FIELDS, similar=("first_name", "last_name"), phone="phone"
        )


class Contact(models.Model):
    """A person at the customer."""

    class Role(models.TextChoices):
        DECISION_MAKER = "decision_maker", "Decision maker"
        CHAMPION = "champion", "Champion"
        USER = "user", "User"
        TECHNICAL = "technical", "Technical"
        BILLING = "billing", "Billing"
        OTHER = "other", "Other"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        VIDEO = "video", "Video call"
        VISIT = "visit", "Visit"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="contacts")
    first_name = SingleLineCharField(max_length=100)
    last_name = SingleLineCharField(max_length=100, blank=True)
    title = SingleLineCharField("job title", max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.OTHER)
    email = SingleLineEmailField(blank=True, max_length=254)
    phone = SingleLineCharField(max_length=40, blank=True)
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    best_time = SingleLineCharField("best time to reach", max_length=120, blank=True)
    do_not_contact = models.BooleanField(default=False)
    is_primary = models.BooleanField(default=False)
    # False once the person has left the customer's organisation; kept for history.
    is_active = models.BooleanField("still at the organisation", default=True)
    left_at = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, editable=False, on_delete=models.PROTECT, related_name="merged_from"
    )

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["-is_primary", "last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["account", "is_active"], name="contact_account_active"),
            # The contacts list's default sort (by name) and its "newest" sort.
            models.Index(fields=["last_name", "first_name", "id"], name="contact_name"),
            models.Index(fields=["created_at", "id"], name="contact_created"),
            # The duplicates check compares emails case aside (`email__iexact`, UPPER on PostgreSQL).
            models.Index(Upper("email"), name="contact_email_ci"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_active=True, left_at__isnull=True) | Q(is_active=False),
                name="contact_left_at_only_when_left",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_tombstone(self) -> bool:
        return self.merged_into_id is not None

    @property
    def can_be_emailed(self) -> bool:
        """Still at the organisation, with an email, and has not asked not to be contacted: who
        may be sent a customer link (sign-off, portal, survey). `ContactQuerySet.emailable` in SQL."""
        return self.is_active and not self.do_not_contact and bool(self.email)


class TeamMemberQuerySet(models.QuerySet["AccountTeamMember"]):
    def current(self) -> TeamMemberQuerySet:
        return self.filter(ended_at__isnull=True)

    def on(self, moment: datetime) -> TeamMemberQuerySet:
        """The team as it was at `moment` (effective-dated)."""
        return self.filter(started_at__lte=moment).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=moment))


class AccountTeamMember(models.Model):
    """A vendor person with a role on an account, for a period (effective-dated)."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        SALES_REP = "sales_rep", "Sales rep"
        PRESALES = "presales", "Pre-sales"
        SALES_MANAGER = "sales_manager", "Sales manager"
        DELIVERY_OWNER = "delivery_owner", "Delivery owner"
        SUPPORT = "support", "Support"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="team")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="account_roles")
    role = models.CharField(max_length=20, choices=Role.choices)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = TeamMemberQuerySet.as_manager()

    class Meta:
        ordering = ["account", "role", "started_at"]
        indexes = [
            models.Index(fields=["user", "account"], name="team_current_user", condition=Q(ended_at__isnull=True)),
            models.Index(fields=["account", "started_at"], name="team_account_started"),
        ]
        constraints = [
            # One open period per person and role on an account.
            models.UniqueConstraint(
                fields=["account", "user", "role"],
                condition=Q(ended_at__isnull=True),
                name="team_one_open_period_per_role",
            ),
            # Exactly one current owner is enforced by the services; at most one by the database.
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(ended_at__isnull=True, role="owner"),
                name="team_one_current_owner",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="team_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()} on {self.account}"


class OwnershipChange(models.Model):
    """The ownership ledger: one row per change of owner, never edited or deleted."""

    class Reason(models.TextChoices):
        NEW = "new", "New account"
        REASSIGNMENT = "reassignment", "Reassignment"
        DEPARTURE = "departure", "Departure"
        TERRITORY = "territory", "Territory change"
        HANDOVER = "handover", "Handover to delivery"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ownership_changes")
    from_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = MultiLineTextField("handover note", blank=True, max_length=5000)
    assigned_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Set when the new owner has been emailed (by the outcome of the outbox notice
    # "crm.ownership_notice", which is what owes the email once).
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the new owner's email could not be sent and will not be retried, with the error,
    # so the failure is seen in the admin instead of the email silently never going.
    notice_failed_at = models.DateTimeField(null=True, blank=True, editable=False)
    notice_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-changed_at"], name="ownership_account_time"),
            # The period's real changes of owner (every account also has its "new account" row).
            models.Index(fields=["changed_at"], name="ownership_changed", condition=~Q(reason="new")),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.from_user} -> {self.to_user} ({self.reason})"


class DealQuerySet(models.QuerySet["Deal"]):
    def visible_to(self, user: Any) -> DealQuerySet:
        return visible_through_account(self, user)

    def open(self) -> DealQuerySet:
        return self.filter(stage__in=Deal.OPEN_STAGES)

    def matching(self, query: str) -> DealQuerySet:
        """Deals whose name holds every word of `query` (or a typo of it, on PostgreSQL)."""
        return search.matching(self, query, fields=("name",), similar=("name",))


class Deal(FSMModelMixin, models.Model):
    """A sale in progress. `won` freezes who sold it; the pipeline is a django-fsm state."""

    class Stage(models.TextChoices):
        LEAD = "lead", "Lead"
        QUALIFIED = "qualified", "Qualified"
        PROPOSAL = "proposal", "Proposal"
        NEGOTIATION = "negotiation", "Negotiation"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    OPEN_STAGES = [Stage.LEAD, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION]

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="deals")
    name = SingleLineCharField(max_length=200)
    value = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    currency = SingleLineCharField(max_length=3, default="EUR")
    expected_close_date = models.DateField(null=True, blank=True)
    stage = FSMField(max_length=20, choices=Stage.choices, default=Stage.LEAD, protected=True)
    # The rep currently working the deal; moves with the account while the deal is open.
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="deals")
    # Frozen when the deal is won: attribution never follows later reassignments.
    sold_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="deals_sold")
    closed_at = models.DateTimeField(null=True, blank=True)
    lost_reason = MultiLineTextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["stage", "-created_at"], name="deal_stage_created"),
            models.Index(fields=["account", "stage"], name="deal_account_stage"),
            models.Index(fields=["owner", "stage"], name="deal_owner_stage"),
            # The deals list: its default sort (last updated), "mine" in that order, and the
            # close-date filter and sort.
            models.Index(fields=["updated_at", "id"], name="deal_updated"),
            models.Index(fields=["owner", "updated_at", "id"], name="deal_owner_updated"),
            models.Index(fields=["expected_close_date", "id"], name="deal_close_date"),
            # Won deals by when they closed: where every performance figure of a period starts.
            models.Index(fields=["closed_at", "sold_by"], name="deal_won_closed", condition=Q(stage="won")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="deal_value_not_negative"),
            # closed_at is set exactly when the deal is closed; sold_by exactly when won.
            models.CheckConstraint(
                condition=Q(stage__in=["won", "lost"], closed_at__isnull=False)
                | Q(~Q(stage__in=["won", "lost"]), closed_at__isnull=True),
                name="deal_closed_at_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(stage="won", sold_by__isnull=False) | Q(~Q(stage="won"), sold_by__isnull=True),
                name="deal_sold_by_iff_won",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.stage in self.OPEN_STAGES

    # Transitions only change memory; crm.services saves them with an event row.
    @transition(field=stage, source=OPEN_STAGES, target=RETURN_VALUE(*OPEN_STAGES))
    def move(self, *, to: str) -> str:
        """Moves an open deal to another open stage (the pipeline need not be walked in order)."""
        if to not in self.OPEN_STAGES:
            raise TransitionNotAllowed(f"A deal is closed by winning or losing it, not by moving it to {to!r}.")
        if to == self.stage:
            raise TransitionNotAllowed(f"The deal is already at {to!r}.")
        return to

    @transition(field=stage, source=OPEN_STAGES, target=Stage.WON)
    def win(self, *, by: Any) -> None:
        self.closed_at = timezone.now()
        self.sold_by = by

    @transition(field=stage, source=OPEN_STAGES, target=Stage.LOST)
    def lose(self, *, reason: str) -> None:
        self.closed_at = timezone.now()
        self.lost_reason = reason

    @transition(field=stage, source=[Stage.WON, Stage.LOST], target=RETURN_VALUE(*OPEN_STAGES))
    def reopen(self, *, to: str) -> str:
        """Puts a closed deal back at an open stage: it is neither closed nor sold any more (the
        event row keeps who sold it and why it was lost)."""
        if to not in self.OPEN_STAGES:
            raise TransitionNotAllowed(f"A deal is reopened at an open stage, not at {to!r}.")
        self.closed_at = None
        self.sold_by = None
        self.lost_reason = ""
        return to


class DealLineItem(models.Model):
    """What is being sold: a product or a service, with quantity and price."""

    class Kind(models.TextChoices):
        PRODUCT = "product", "Product"
        SERVICE = "service", "Service"

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="line_items")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PRODUCT)
    name = SingleLineCharField(max_length=200)
    quantity = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("1"), validators=[MinValueValidator(Decimal("0.01"))]
    )
    unit_price = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="line_item_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="line_item_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"

    @property
    def total(self) -> Decimal:
        return self.quantity * self.unit_price


class ActivityQuerySet(models.QuerySet["Activity"]):
    def visible_to(self, user: Any) -> ActivityQuerySet:
        return visible_through_account(self, user)

    def timeline(self) -> ActivityQuerySet:
        return self.select_related("actor", "deal").order_by("-occurred_at", "-id")


class Activity(models.Model):
    """One line on an account's timeline: a logged call, meeting, email or note, or a system
    event (promise made, owner changed, deal won...) written by an `events.py` function."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        MEETING = "meeting", "Meeting"
        EMAIL = "email", "Email"
        NOTE = "note", "Note"
        EVENT = "event", "System event"

    LOGGABLE_KINDS = [Kind.CALL, Kind.MEETING, Kind.EMAIL, Kind.NOTE]

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="activities")
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.PROTECT, related_name="activities")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # For system events: a dotted name such as "deal.won" or "account.owner_changed".
    event_type = models.CharField(max_length=60, blank=True)
    subject = SingleLineCharField(max_length=200)
    body = MultiLineTextField(blank=True, max_length=10000)
    occurred_at = models.DateTimeField(default=timezone.now)
    # Who did it: a vendor user, or nobody with actor_label saying who ("customer via link").
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = SingleLineCharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # What changed, for events: {"from": ..., "to": ..., ...}.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["account", "-occurred_at", "-id"], name="activity_timeline"),
            # Handovers sent back in a period: two event types among every timeline row.
            models.Index(
                fields=["occurred_at"], name="activity_sent_back",
                condition=Q(event_type__in=["handover.returned", "handover.rejected"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="event", event_type__gt="") | (~Q(kind="event") & Q(event_type="")),
                name="activity_event_type_iff_event",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_event(self) -> bool:
        return self.kind == self.Kind.EVENT

    @property
    def who(self) -> str:
        if self.actor_id:
            return str(self.actor.get_full_name() or self.actor.get_username())  # type: ignore[union-attr]
        return self.actor_label or "Keepwarm"



class PipelineTotal(models.Model):
    """Deals and their value per stage and currency, kept current by the deal services in the
    same transaction as each change. The pipeline reads these few rows for users who see every
    deal, instead of summing every deal on each page view, which grows with the deals
    (docs/benchmarks.md).
    `crm.services.pipeline_totals_rebuild` recomputes them from the deals."""

    stage = models.CharField(max_length=20, choices=Deal.Stage.choices)
    currency = SingleLineCharField(max_length=3)
    deal_count = models.IntegerField(default=0)
    value_total = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stage", "currency"], name="pipeline_total_one_row_per_stage_currency"),
            models.CheckConstraint(condition=Q(deal_count__gte=0), name="pipeline_total_count_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.stage} {self.currency}: {self.deal_count}"
