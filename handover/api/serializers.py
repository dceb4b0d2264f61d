"""Shapes of the handover API. As in crm.api: serializers validate the shape, handover.services
the rules, and no serializer saves anything (ServiceOnly). State, maker, reviewer, delivery
owner and timestamps are read-only, so writing them through the API changes nothing."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import ModelSerializer, MultiLineSerializerField, SingleLineSerializerField
from crm.api.serializers import (
    ActiveUserField,
    ServiceOnly,
    VisibleDealField,
    _display_name,
    _RequestUserMixin,
)
from crm.models import Contact
from handover import services
from handover.models import Handover, HandoverContact, Promise, PromiseReview


@extend_schema_field(OpenApiTypes.INT)
class VisibleContactField(_RequestUserMixin, serializers.PrimaryKeyRelatedField):
    """A contact on an account the requesting user sees (the service checks it is the right account)."""

    def get_queryset(self) -> Any:
        return Contact.objects.visible_to(self._user())


# --- Promises -------------------------------------------------------------------------------


class PromiseReviewSerializer(ModelSerializer):
    reviewer_name = serializers.SerializerMethodField()

    class Meta:
        model = PromiseReview
        fields = ["id", "kind", "verdict", "comment", "reviewer", "reviewer_name", "created_at"]
        read_only_fields = fields

    def get_reviewer_name(self, review: PromiseReview) -> str:
        return _display_name(review.reviewer)


class PromiseSerializer(ServiceOnly, ModelSerializer):
    """A promise as read and edited (while the handover is being prepared). The maker is the
    person who recorded it, frozen; the state changes only through reset and withdraw."""

    made_by_name = serializers.SerializerMethodField()
    made_to = VisibleContactField(required=False, allow_null=True, help_text="The customer contact it was made to.")
    made_to_name = serializers.SerializerMethodField()
    description = MultiLineSerializerField(max_length=5000)
    source_reference = SingleLineSerializerField(max_length=200, required=False, allow_blank=True)
    reviews = PromiseReviewSerializer(many=True, read_only=True, help_text="Every review, oldest first.")
    latest_sales_review = PromiseReviewSerializer(read_only=True, allow_null=True)
    latest_feasibility_review = PromiseReviewSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Promise
        fields = [
            "id", "deal", "account", "kind", "description", "made_to", "made_to_name", "due_date", "source",
            "source_reference", "made_by", "made_by_name", "made_at", "state", "reset_expectation",
            "reset_agreed_by", "reset_agreed_on", "withdrawn_reason", "outcome_at", "reviews",
            "latest_sales_review", "latest_feasibility_review",
        ]
        read_only_fields = [
            "id", "deal", "account", "made_by", "made_by_name", "made_to_name", "made_at", "state",
            "reset_expectation", "reset_agreed_by", "reset_agreed_on", "withdrawn_reason", "outcome_at",
        ]

    def get_made_by_name(self, promise: Promise) -> str:
        return _display_name(promise.made_by)

    def get_made_to_name(self, promise: Promise) -> str:
        return promise.made_to.full_name if promise.made_to is not None else ""


class PromiseCreateSerializer(PromiseSerializer):
    deal = VisibleDealField(help_text="The deal the promise was made on (one you can see).")

    class Meta(PromiseSerializer.Meta):
        read_only_fields = [f for f in PromiseSerializer.Meta.read_only_fields if f != "deal"]


class PromiseReviewRequestSerializer(ServiceOnly, serializers.Serializer):
    verdict = serializers.ChoiceField(
        choices=PromiseReview.Verdict.choices,
        help_text="Sales review: ok, at_risk, not_acceptable. Feasibility review: feasible, at_risk, not_feasible.",
    )
    comment = MultiLineSerializerField(
        required=False, allow_blank=True, max_length=2000, default="",
        help_text="Required for not_acceptable and not_feasible.",
    )
    kind = serializers.ChoiceField(
        choices=PromiseReview.Kind.choices, required=False, allow_null=True, default=None,
        help_text="Only for someone holding both manager roles; otherwise the reviewer's role decides.",
    )


class PromiseResetSerializer(ServiceOnly, serializers.Serializer):
    expectation = MultiLineSerializerField(max_length=5000, help_text="What the customer now expects.")
    agreed_by = VisibleContactField(help_text="The customer contact who agreed.")
    agreed_on = serializers.DateField(help_text="When the customer agreed (not in the future).")


class ReasonSerializer(ServiceOnly, serializers.Serializer):
    reason = MultiLineSerializerField(max_length=2000)


# --- Handovers ------------------------------------------------------------------------------


class HandoverContactSerializer(ModelSerializer):
    contact = VisibleContactField()
    contact_name = serializers.SerializerMethodField()
    delivery_role = SingleLineSerializerField(max_length=120, required=False, allow_blank=True, default="")

    class Meta:
        model = HandoverContact
        fields = ["contact", "contact_name", "delivery_role"]
        read_only_fields = ["contact_name"]

    def get_contact_name(self, row: HandoverContact) -> str:
        return row.contact.full_name

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A partial update makes nested fields optional too; a row still names its contact.
        if "contact" not in attrs:
            raise serializers.ValidationError({"contact": "This field is required."})
        return attrs


class HandoverSerializer(ServiceOnly, ModelSerializer):
    """A handover as read and edited by the rep (while draft, returned or rejected). The state
    changes only through the actions; the delivery owner is named by accepting."""

    deal_name = serializers.CharField(source="deal.name", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    rep_name = serializers.SerializerMethodField()
    delivery_owner_name = serializers.SerializerMethodField()
    purchased = MultiLineSerializerField(max_length=10000, required=False, allow_blank=True)
    customer_expectations = MultiLineSerializerField(max_length=10000, required=False, allow_blank=True)
    risks = MultiLineSerializerField(max_length=5000, required=False, allow_blank=True)
    meeting_minutes = MultiLineSerializerField(max_length=10000, required=False, allow_blank=True)
    proposed_delivery_owner = ActiveUserField(
        required=False, allow_null=True, help_text="The delivery team member the rep proposes.",
    )
    vendor_attendees = ActiveUserField(many=True, required=False, help_text="Vendor people at the meeting.")
    customer_attendees = VisibleContactField(many=True, required=False, help_text="Contacts at the meeting.")
    contacts = HandoverContactSerializer(
        many=True, required=False, help_text="The customer contacts for delivery; on write the list replaces them.",
    )

    class Meta:
        model = Handover
        fields = [
            "id", "deal", "deal_name", "account", "account_name", "rep", "rep_name", "state", "purchased",
            "customer_expectations", "risks", "contacts", "meeting_at", "meeting_held", "meeting_minutes",
            "vendor_attendees", "customer_attendees", "proposed_delivery_owner", "delivery_owner",
            "delivery_owner_name", "created_at", "submitted_at", "approved_at", "accept_deadline", "accepted_at",
            "last_reason",
        ]
        read_only_fields = [
            "id", "deal", "deal_name", "account", "account_name", "rep", "rep_name", "state", "delivery_owner",
            "delivery_owner_name", "created_at", "submitted_at", "approved_at", "accept_deadline", "accepted_at",
            "last_reason",
        ]

    def get_rep_name(self, handover: Handover) -> str:
        return _display_name(handover.rep)

    def get_delivery_owner_name(self, handover: Handover) -> str:
        return _display_name(handover.delivery_owner)

    def validate_contacts(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [row["contact"].pk for row in value]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("Each contact may appear once.")
        return value


class WaitingForSerializer(serializers.Serializer):
    next_step = serializers.ChoiceField(
        choices=["submit", "approve", "accept"], allow_null=True,
        help_text="The handover's next step; null once accepted.",
    )
    blockers = serializers.DictField(
        child=serializers.CharField(), help_text="What stops the next step, by field; empty when it can go.",
    )


# The next step for each state, and what stops it.
NEXT_STEP: dict[str, tuple[str, Any]] = {
    Handover.State.DRAFT: ("submit", services.submit_blockers),
    Handover.State.RETURNED: ("submit", services.submit_blockers),
    Handover.State.REJECTED: ("submit", services.submit_blockers),
    Handover.State.SUBMITTED: ("approve", services.approve_blockers),
    Handover.State.SALES_APPROVED: ("accept", services.accept_blockers),
}


class HandoverDetailSerializer(HandoverSerializer):
    """One handover with what it is waiting for (a few queries, so lists leave it out)."""

    waiting_for = serializers.SerializerMethodField()

    class Meta(HandoverSerializer.Meta):
        fields = [*HandoverSerializer.Meta.fields, "waiting_for"]
        read_only_fields = [*HandoverSerializer.Meta.read_only_fields, "waiting_for"]

    @extend_schema_field(WaitingForSerializer)
    def get_waiting_for(self, handover: Handover) -> dict[str, Any]:
        step = NEXT_STEP.get(handover.state)
        if step is None:
            return {"next_step": None, "blockers": {}}
        name, blockers = step
        return {"next_step": name, "blockers": blockers(handover)}


class HandoverAcceptSerializer(ServiceOnly, serializers.Serializer):
    delivery_owner = ActiveUserField(help_text="The delivery team member who owns the delivery.")
    plan_template = serializers.IntegerField(
        required=False, allow_null=True, min_value=1,
        help_text="The delivery plan template for the delivery project (GET /api/v1/plan-templates/); "
        "the configured default when left out.",
    )
