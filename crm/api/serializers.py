"""Shapes of crm's API: serializers validate the shape of a request, crm.services the rules.

No serializer saves anything: `create`/`update` are refused (ServiceOnly) so a view cannot
write around the services by calling `serializer.save()`. Fields that only the product may
change (a deal's stage, who sold it, when it closed, who owns an account after creation) are
read-only, so writing them through the API changes nothing (reliability 5 and 18).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import ModelSerializer, MultiLineSerializerField, SingleLineSerializerField
from crm import roles
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    Contact,
    Deal,
    DealLineItem,
    OwnershipChange,
)

User = get_user_model()


def _display_name(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())


class ServiceOnly:
    """Serializers here validate; the view hands `validated_data` to a crm service."""

    def create(self, validated_data: Any) -> Any:
        raise NotImplementedError("Writes go through crm.services.")

    def update(self, instance: Any, validated_data: Any) -> Any:
        raise NotImplementedError("Writes go through crm.services.")


# --- Related-object fields limited to what the requesting user may see -------------------------


class _RequestUserMixin:
    def _user(self) -> Any:
        request = self.context.get("request")  # type: ignore[attr-defined]
        return getattr(request, "user", None)


@extend_schema_field(OpenApiTypes.INT)
class VisibleAccountField(_RequestUserMixin, serializers.PrimaryKeyRelatedField):
    """An account the requesting user sees; anything else reads as "does not exist" (no leak).
    A merged account (a tombstone) is not one to add to: its survivor is."""

    def get_queryset(self) -> Any:
        return Account.objects.visible_to(self._user()).filter(merged_into__isnull=True)


@extend_schema_field(OpenApiTypes.INT)
class VisibleDealField(_RequestUserMixin, serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> Any:
        return Deal.objects.visible_to(self._user())


@extend_schema_field(OpenApiTypes.INT)
class ActiveUserField(serializers.PrimaryKeyRelatedField):
    """A vendor person who can be given work (the service checks they hold a role)."""

    def get_queryset(self) -> Any:
        return User.objects.filter(is_active=True)


@extend_schema_field(OpenApiTypes.INT)
class AnyUserField(serializers.PrimaryKeyRelatedField):
    """Any user, active or not: a departed user's book is still reassigned from them."""

    def get_queryset(self) -> Any:
        return User.objects.all()


# --- Users ----------------------------------------------------------------------------------


class UserSerializer(ModelSerializer):
    """A vendor person for pickers: who they are and which roles they hold."""

    full_name = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "full_name", "email", "roles"]
        read_only_fields = fields

    def get_full_name(self, user: Any) -> str:
        return _display_name(user)

    def get_roles(self, user: Any) -> list[str]:
        # Groups are prefetched by the view; roles.role_names would query once per user.
        names = sorted(g.name for g in user.groups.all() if g.name in roles.ALL_ROLES)
        if user.is_superuser and roles.ADMINISTRATOR not in names:
            names.append(roles.ADMINISTRATOR)
        return names


class UserDeactivateSerializer(ServiceOnly, serializers.Serializer):
    successor = ActiveUserField(
        required=False, allow_null=True,
        help_text="Who takes over the accounts the user still owns (required when they own any).",
    )
    note = MultiLineSerializerField(required=False, allow_blank=True, max_length=5000, default="")


# --- Accounts -------------------------------------------------------------------------------


class AccountSerializer(ServiceOnly, ModelSerializer):
    """An account as read, and as updated (the owner changes only by reassignment, the
    lifecycle only with the deals and the delivery)."""

    owner_name = serializers.SerializerMethodField()
    is_single_threaded = serializers.BooleanField(read_only=True)

    class Meta:
        model = Account
        fields = [
            "id", "name", "website", "industry", "city", "country", "lifecycle", "notes",
            "owner", "owner_name", "is_single_threaded", "created_at", "updated_at", "archived_at", "merged_into",
        ]
        read_only_fields = [
            "id", "owner", "lifecycle", "owner_name", "is_single_threaded", "created_at", "updated_at",
            "archived_at", "merged_into",
        ]

    def get_owner_name(self, account: Account) -> str:
        return _display_name(account.owner)


class AccountCreateSerializer(AccountSerializer):
    """Creating an account may name its first owner (the creator when left out) and the stage
    it starts at."""

    owner = ActiveUserField(required=False, help_text="The first owner; defaults to you.")
    confirm_duplicate = serializers.BooleanField(
        required=False, default=False, write_only=True,
        help_text="Create it even though an account with the same normalised name or web domain exists "
        "(without it such a request answers 409 with the candidates).",
    )

    class Meta(AccountSerializer.Meta):
        fields = [*AccountSerializer.Meta.fields, "confirm_duplicate"]
        read_only_fields = ["id", "owner_name", "is_single_threaded", "created_at", "updated_at", "archived_at",
                            "merged_into"]


class DuplicateCandidateSerializer(serializers.Serializer):
    """An existing record a new one resembles (only those the caller may see)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True, help_text="The record's API address.")
    archived = serializers.BooleanField(read_only=True)


class DuplicatesSerializer(serializers.Serializer):
    candidates = DuplicateCandidateSerializer(many=True, read_only=True)
    hidden_candidates = serializers.BooleanField(
        read_only=True,
        help_text="Whether records you may not see match too (they are never listed): ask a sales manager.",
    )


class DuplicateConflictSerializer(DuplicatesSerializer):
    detail = serializers.CharField(read_only=True)


class DuplicatesQuerySerializer(serializers.Serializer):
    name = SingleLineSerializerField(required=False, allow_blank=True, max_length=200, default="")
    website = SingleLineSerializerField(required=False, allow_blank=True, max_length=300, default="")


class TombstoneSerializer(serializers.Serializer):
    """A merged record's detail: where it went (the Location header has its address)."""

    detail = serializers.CharField(read_only=True)
    merged_into = serializers.IntegerField(read_only=True)


class MergeSerializer(serializers.Serializer):
    into = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The id of the survivor.")


class TeamMemberSerializer(ModelSerializer):
    user_name = serializers.SerializerMethodField()
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = AccountTeamMember
        fields = ["id", "user", "user_name", "role", "started_at", "ended_at", "is_current"]
        read_only_fields = fields

    def get_user_name(self, member: AccountTeamMember) -> str:
        return _display_name(member.user)

    def get_is_current(self, member: AccountTeamMember) -> bool:
        return member.ended_at is None


ADDABLE_TEAM_ROLES = [(v, label) for v, label in AccountTeamMember.Role.choices if v != AccountTeamMember.Role.OWNER]


class TeamMemberAddSerializer(ServiceOnly, serializers.Serializer):
    user = ActiveUserField()
    role = serializers.ChoiceField(
        choices=ADDABLE_TEAM_ROLES,
        help_text="The owner changes only by reassignment.",
    )


class OwnershipChangeSerializer(ModelSerializer):
    from_user_name = serializers.SerializerMethodField()
    to_user_name = serializers.SerializerMethodField()
    assigned_by_name = serializers.SerializerMethodField()

    class Meta:
        model = OwnershipChange
        fields = [
            "id", "account", "from_user", "from_user_name", "to_user", "to_user_name", "changed_at",
            "reason", "note", "assigned_by", "assigned_by_name",
        ]
        read_only_fields = fields

    def get_from_user_name(self, change: OwnershipChange) -> str:
        return _display_name(change.from_user)

    def get_to_user_name(self, change: OwnershipChange) -> str:
        return _display_name(change.to_user)

    def get_assigned_by_name(self, change: OwnershipChange) -> str:
        return _display_name(change.assigned_by)


REASSIGN_REASONS = [(v, label) for v, label in OwnershipChange.Reason.choices if v != OwnershipChange.Reason.NEW]


class AccountReassignSerializer(ServiceOnly, serializers.Serializer):
    to_user = ActiveUserField(help_text="The new owner.")
    reason = serializers.ChoiceField(choices=REASSIGN_REASONS, default=OwnershipChange.Reason.REASSIGNMENT)
    note = MultiLineSerializerField(
        required=False, allow_blank=True, max_length=5000, default="",
        help_text="The handover note for the new owner.",
    )


# --- Book reassignment ----------------------------------------------------------------------


class AssignmentSerializer(serializers.Serializer):
    """One exception to the book's successor: this account goes to someone else."""

    account = serializers.IntegerField(min_value=1)
    to_user = ActiveUserField()


class BookReassignSerializer(ServiceOnly, serializers.Serializer):
    from_user = AnyUserField(help_text="Whose book moves (often a departing user).")
    to_user = ActiveUserField(help_text="The successor for every account not listed in `assignments`.")
    reason = serializers.ChoiceField(choices=REASSIGN_REASONS, default=OwnershipChange.Reason.DEPARTURE)
    note = MultiLineSerializerField(required=False, allow_blank=True, max_length=5000, default="")
    assignments: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=AssignmentSerializer(), required=False, max_length=1000,
        help_text="Exceptions: these accounts go to someone other than `to_user`.",
    )
    preview = serializers.BooleanField(
        default=False, help_text="Return the plan without applying it; nothing is written.",
    )

    def validate_assignments(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        accounts = [row["account"] for row in value]
        if len(accounts) != len(set(accounts)):
            raise serializers.ValidationError("Each account may appear once.")
        return value


class PlanRowSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account_id")
    account_name = serializers.CharField()
    from_user = serializers.IntegerField(source="from_user_id")
    to_user = serializers.IntegerField(source="to_user_id")
    open_deals = serializers.IntegerField(help_text="Open deals of the old owner that move with the account.")


class ReassignmentPlanSerializer(serializers.Serializer):
    from_user = serializers.IntegerField(source="from_user.pk")
    rows = PlanRowSerializer(many=True)
    account_count = serializers.IntegerField()
    open_deal_count = serializers.IntegerField()
    other_open_deals = serializers.IntegerField(
        help_text="Open deals on accounts owned by others that also move to the successor.",
    )
    applied = serializers.BooleanField(help_text="False for a preview: nothing was written.")


class ReportingLineSerializer(ServiceOnly, serializers.Serializer):
    manager = ActiveUserField(
        allow_null=True, help_text="Who the user reports to: their missed check-ups escalate to them (null: nobody).",
    )


class ReportingLineResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    manager = serializers.IntegerField(allow_null=True)


class UserDeactivatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_active = serializers.BooleanField()
    reassignment = ReassignmentPlanSerializer(allow_null=True, help_text="The book handed to the successor.")


# --- Contacts -------------------------------------------------------------------------------


class ContactSerializer(ServiceOnly, ModelSerializer):
    """A person at the customer, as read and updated (a contact never changes account)."""

    full_name = serializers.CharField(read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id", "account", "first_name", "last_name", "full_name", "title", "role", "email", "phone",
            "preferred_channel", "best_time", "do_not_contact", "is_primary", "is_active", "left_at",
            "created_at", "archived_at", "merged_into",
        ]
        read_only_fields = ["id", "account", "full_name", "created_at", "archived_at", "merged_into"]


class ContactCreateSerializer(ContactSerializer):
    account = VisibleAccountField()
    confirm_duplicate = serializers.BooleanField(
        required=False, default=False, write_only=True,
        help_text="Add them even though a contact with the same email (case aside) exists "
        "(without it such a request answers 409 with the candidates).",
    )

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "confirm_duplicate"]
        read_only_fields = ["id", "full_name", "created_at", "archived_at", "merged_into"]


# --- Deals ----------------------------------------------------------------------------------


class LineItemSerializer(ModelSerializer):
    total = serializers.DecimalField(max_digits=26, decimal_places=4, read_only=True)

    class Meta:
        model = DealLineItem
        fields = ["id", "kind", "name", "quantity", "unit_price", "total"]
        read_only_fields = ["id", "total"]


currency_code = RegexValidator(r"^[A-Z]{3}\Z", "Use a three-letter ISO 4217 code such as EUR.")


class DealSerializer(ServiceOnly, ModelSerializer):
    """A deal as read and updated. Stage changes only through move/win/lose; `sold_by` and
    `closed_at` are set by winning or losing; the owner follows the account."""

    account_name = serializers.CharField(source="account.name", read_only=True)
    owner_name = serializers.SerializerMethodField()
    currency = SingleLineSerializerField(max_length=3, validators=[currency_code], required=False)
    is_open = serializers.BooleanField(read_only=True)
    line_items: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=LineItemSerializer(), required=False, max_length=200,
        help_text="What is being sold. On write, the list replaces the deal's line items.",
    )

    class Meta:
        model = Deal
        fields = [
            "id", "account", "account_name", "name", "value", "currency", "expected_close_date", "stage",
            "is_open", "owner", "owner_name", "sold_by", "closed_at", "lost_reason", "line_items",
            "created_at", "updated_at",
        ]
        read_only_fields = [
            "id", "account", "account_name", "stage", "is_open", "owner", "owner_name", "sold_by",
            "closed_at", "lost_reason", "created_at", "updated_at",
        ]

    def get_owner_name(self, deal: Deal) -> str:
        return _display_name(deal.owner)


class DealCreateSerializer(DealSerializer):
    account = VisibleAccountField()
    owner = ActiveUserField(
        required=False,
        help_text="Who works the deal; defaults to you (a rep) or the account owner. Only sales managers and "
        "administrators name someone else (403), who must be able to work the account's deals (400).",
    )

    class Meta(DealSerializer.Meta):
        read_only_fields = [
            "id", "account_name", "stage", "is_open", "owner_name", "sold_by", "closed_at", "lost_reason",
            "created_at", "updated_at",
        ]


class DealMoveSerializer(ServiceOnly, serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=Deal.Stage.choices,
        help_text="An open stage; a deal is closed with win or lose (moving to won/lost answers 409).",
    )
    from_stage = serializers.ChoiceField(
        choices=Deal.Stage.choices, required=False,
        help_text="The stage you saw the deal at: if it moved since, nothing changes and the answer is 409.",
    )


class DealLoseSerializer(ServiceOnly, serializers.Serializer):
    reason = MultiLineSerializerField(max_length=2000, help_text="Why the deal was lost.")


class DealReopenSerializer(ServiceOnly, serializers.Serializer):
    to = serializers.ChoiceField(
        choices=[(stage.value, stage.label) for stage in Deal.OPEN_STAGES], help_text="The open stage it goes back to.",
    )
    reason = MultiLineSerializerField(
        max_length=2000, required=False, allow_blank=True, default="",
        help_text="Why it is reopened (optional; on the timeline).",
    )


# --- Activities -----------------------------------------------------------------------------


class ActivitySerializer(ModelSerializer):
    """One timeline row: a logged call, meeting, email or note, or a system event."""

    actor_name = serializers.CharField(source="who", read_only=True)

    class Meta:
        model = Activity
        fields = [
            "id", "account", "deal", "kind", "event_type", "subject", "body", "occurred_at", "actor",
            "actor_name", "data", "created_at",
        ]
        read_only_fields = fields


class ActivityLogSerializer(ServiceOnly, serializers.Serializer):
    account = VisibleAccountField()
    deal = VisibleDealField(required=False, allow_null=True, default=None)
    kind = serializers.ChoiceField(choices=[(k.value, k.label) for k in Activity.LOGGABLE_KINDS])
    subject = SingleLineSerializerField(max_length=200)
    body = MultiLineSerializerField(required=False, allow_blank=True, max_length=10000, default="")
    occurred_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When it happened; defaults to now.",
    )


# --- Auth -----------------------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    username = SingleLineSerializerField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
