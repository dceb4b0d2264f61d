"""Shapes of the touchpoints API. As in crm.api, handover.api and delivery.api: serializers
validate the shape, touchpoints.services the rules, and no serializer saves anything
(ServiceOnly). A touchpoint is read-only here (the agenda and follow-ups create it); its state,
owner, outcome and dates change only through complete, skip, cancel and reschedule. The
customer's survey answer is summarised without their IP address or browser."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import ModelSerializer, MultiLineSerializerField, SingleLineSerializerField
from crm.api.serializers import ServiceOnly, _display_name
from delivery.models import Problem
from touchpoints.models import AgendaStep, AgendaTemplate, Kind, SurveyResponse, Touchpoint

# --- Agendas ------------------------------------------------------------------------------------


class AgendaStepSerializer(ModelSerializer):
    class Meta:
        model = AgendaStep
        fields = ["id", "position", "anchor", "offset_days", "kind", "channel", "objectives", "sends_survey"]
        read_only_fields = fields


class AgendaTemplateSerializer(ModelSerializer):
    steps = AgendaStepSerializer(many=True, read_only=True, help_text="In order.")

    class Meta:
        model = AgendaTemplate
        fields = ["id", "name", "description", "is_active", "created_at", "steps"]
        read_only_fields = fields


# --- Touchpoints --------------------------------------------------------------------------------


class SurveySummarySerializer(ModelSerializer):
    """The customer's answer to the check-up survey (never their IP address or browser)."""

    class Meta:
        model = SurveyResponse
        fields = ["id", "satisfaction", "as_expected", "is_complaint", "comment", "problem", "created_at"]
        read_only_fields = fields


class TouchpointSerializer(ModelSerializer):
    """A check-up with its outcome once recorded. Read-only: it changes through its actions."""

    account_name = serializers.CharField(source="account.name", read_only=True)
    owner_name = serializers.SerializerMethodField()
    contact_name = serializers.SerializerMethodField()
    completed_by_name = serializers.SerializerMethodField()
    survey_response = serializers.SerializerMethodField(
        help_text="The customer's answer to the survey this touchpoint emailed; null when none.",
    )

    class Meta:
        model = Touchpoint
        fields = [
            "id", "account", "account_name", "handover", "project", "kind", "title", "objectives", "owner",
            "owner_name", "contact", "contact_name", "channel", "due_at", "sends_survey", "state", "created_at",
            "closed_at", "satisfaction", "as_expected", "notes", "reason", "completed_by", "completed_by_name",
            "follow_up_of", "survey_response",
        ]
        read_only_fields = fields

    def get_owner_name(self, touchpoint: Touchpoint) -> str:
        return _display_name(touchpoint.owner)

    def get_contact_name(self, touchpoint: Touchpoint) -> str:
        return touchpoint.contact.full_name if touchpoint.contact is not None else ""

    def get_completed_by_name(self, touchpoint: Touchpoint) -> str:
        return _display_name(touchpoint.completed_by)

    @extend_schema_field(SurveySummarySerializer(allow_null=True))
    def get_survey_response(self, touchpoint: Touchpoint) -> dict[str, Any] | None:
        # Loaded with select_related("survey_response"): no query per row.
        try:
            response = touchpoint.survey_response
        except SurveyResponse.DoesNotExist:
            return None
        return SurveySummarySerializer(response).data  # type: ignore[no-any-return]


class TouchpointCompleteSerializer(ServiceOnly, serializers.Serializer):
    satisfaction = serializers.IntegerField(
        min_value=1, max_value=5,
        help_text="1 (very unhappy) to 5 (very happy); a thank-you note may leave it out or send null.",
    )
    as_expected = serializers.BooleanField(help_text="Was everything as the customer expected?")
    notes = MultiLineSerializerField(required=False, allow_blank=True, max_length=5000, default="")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        touchpoint = self.context.get("touchpoint")
        if touchpoint is not None and touchpoint.kind == Kind.THANK_YOU:
            # A thank-you note asks the customer nothing: the score is not demanded.
            field = self.fields["satisfaction"]
            field.required = False
            field.allow_null = True
    follow_up_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None,
        help_text="Schedules a follow-up check-up then (same owner and contact); between yesterday and three "
        "years from now.",
    )
    follow_up_title = SingleLineSerializerField(required=False, allow_blank=True, max_length=200, default="")
    problem_title = SingleLineSerializerField(
        required=False, allow_blank=True, max_length=200, default="",
        help_text="Opens a problem on the account (source check-up) with this title.",
    )
    problem_severity = serializers.ChoiceField(
        choices=Problem.Severity.choices, required=False, default=Problem.Severity.MEDIUM,
    )


class TouchpointReasonSerializer(ServiceOnly, serializers.Serializer):
    reason = MultiLineSerializerField(max_length=2000, help_text="Why (kept on the touchpoint and the timeline).")


class TouchpointRescheduleSerializer(ServiceOnly, serializers.Serializer):
    due_at = serializers.DateTimeField(help_text="The new due time: between yesterday and three years from now.")
