"""Shapes of the delivery API. As in crm.api and handover.api: serializers validate the shape,
delivery.services the rules, and no serializer saves anything (ServiceOnly). States, owners,
signers, raisers and timestamps are read-only, so writing them through the API changes nothing.
A customer link is shown by its dates only: its token never leaves the email (nor its hash)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import ModelSerializer, MultiLineSerializerField, SingleLineSerializerField
from crm.api.serializers import ServiceOnly, VisibleAccountField, _display_name, _RequestUserMixin
from crm.models import Contact
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import PlanTemplate, PlanTemplateStage, Problem, Project, SignOff, Stage
from handover.api.serializers import VisibleContactField
from handover.models import Promise

# --- Related objects limited to what the requesting user may see ------------------------------


@extend_schema_field(OpenApiTypes.INT)
class VisibleProjectField(_RequestUserMixin, serializers.PrimaryKeyRelatedField):
    """A delivery project the requesting user sees; anything else reads as "does not exist"."""

    def get_queryset(self) -> Any:
        return Project.objects.visible_to(self._user())


class VisiblePromisesField(_RequestUserMixin, serializers.ListField):
    """A list of promise ids the requesting user sees, looked up in one query (an id that is
    not visible reads as "does not exist"); the service checks they belong to the right deal."""

    default_error_messages = {"does_not_exist": 'Invalid pk "{pk_value}" - object does not exist.'}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.IntegerField(min_value=1, max_value=2**63 - 1))
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[Promise]:
        ids = list(dict.fromkeys(super().to_internal_value(data)))
        found = Promise.objects.visible_to(self._user()).in_bulk(ids)
        missing = [pk for pk in ids if pk not in found]
        if missing:
            self.fail("does_not_exist", pk_value=missing[0])
        return [found[pk] for pk in ids]

    def to_representation(self, data: Any) -> list[int]:
        return [promise.pk for promise in data.all()]


# --- Plan templates -----------------------------------------------------------------------------


def _signer_role() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=Contact.Role.choices, allow_blank=True, read_only=True,
        help_text="The contact role that signs the stage off; empty: any active contact.",
    )


class PlanTemplateStageSerializer(ModelSerializer):
    signer_role = _signer_role()

    class Meta:
        model = PlanTemplateStage
        fields = ["id", "position", "name", "description", "needs_signoff", "signer_role", "duration_days"]
        read_only_fields = fields


class PlanTemplateSerializer(ModelSerializer):
    stages = PlanTemplateStageSerializer(many=True, read_only=True, help_text="In order.")

    class Meta:
        model = PlanTemplate
        fields = ["id", "name", "description", "is_active", "created_at", "stages"]
        read_only_fields = fields


# --- Projects -----------------------------------------------------------------------------------


class StageSummarySerializer(ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "position", "name", "state", "needs_signoff", "due_date", "signed_off_at", "done_at"]
        read_only_fields = fields


class ProjectSerializer(ModelSerializer):
    """A delivery project: started by accepting a handover, complete when every stage is signed
    off or done. Read-only: it changes through its stages."""

    account_name = serializers.CharField(source="account.name", read_only=True)
    deal_name = serializers.CharField(source="deal.name", read_only=True)
    owner_name = serializers.SerializerMethodField()
    template_name = serializers.CharField(source="template.name", read_only=True)
    stages = StageSummarySerializer(many=True, read_only=True, help_text="Every stage, in order.")

    class Meta:
        model = Project
        fields = [
            "id", "handover", "account", "account_name", "deal", "deal_name", "owner", "owner_name", "template",
            "template_name", "state", "started_at", "completed_at", "stages",
        ]
        read_only_fields = fields

    def get_owner_name(self, project: Project) -> str:
        return _display_name(project.owner)


# --- Stages -------------------------------------------------------------------------------------


class SignOffSerializer(ModelSerializer):
    """One answer of the customer on a sign-off link."""

    contact_name = serializers.CharField(source="contact.full_name", read_only=True)
    ip = serializers.IPAddressField(source="ip_address", read_only=True, allow_null=True)

    class Meta:
        model = SignOff
        fields = ["id", "decision", "typed_name", "on_behalf_name", "on_behalf_role", "reason", "contact",
                  "contact_name", "ip", "user_agent", "created_at"]
        read_only_fields = fields


class CustomerLinkSerializer(ModelSerializer):
    """A link emailed to a customer contact, by its dates; never its token. `email_failed_at` and
    `email_error` say when and why its email could not be sent (then send a new link)."""

    contact_name = serializers.SerializerMethodField()

    class Meta:
        model = CustomerLink
        fields = ["id", "account", "contact", "contact_name", "created_at", "expires_at", "emailed_at", "used_at",
                  "revoked_at", "email_failed_at", "email_error"]
        read_only_fields = fields

    def get_contact_name(self, link: CustomerLink) -> str:
        return link.contact.full_name if link.contact is not None else ""


class CoveredPromiseSerializer(ModelSerializer):
    made_by_name = serializers.SerializerMethodField()

    class Meta:
        model = Promise
        fields = ["id", "kind", "description", "state", "due_date", "made_by", "made_by_name"]
        read_only_fields = fields

    def get_made_by_name(self, promise: Promise) -> str:
        return _display_name(promise.made_by)


class StageSerializer(ServiceOnly, ModelSerializer):
    """A stage as listed and edited by the delivery owner: due date, description, what was
    delivered and the promises it fulfils. Its state changes only through start,
    request-signoff, complete and the customer's answer."""

    signer_name = serializers.SerializerMethodField()
    signer_role = _signer_role()
    description = MultiLineSerializerField(max_length=2000, required=False, allow_blank=True)
    delivered = MultiLineSerializerField(
        max_length=5000, required=False, allow_blank=True, help_text="What was delivered, as the customer reads it.",
    )
    promises = VisiblePromisesField(
        required=False, help_text="Ids of the deal's promises this stage fulfils; on write the list replaces them.",
    )

    class Meta:
        model = Stage
        fields = [
            "id", "project", "account", "position", "name", "description", "needs_signoff", "signer_role",
            "due_date", "promises", "state", "delivered", "signer", "signer_name", "started_at",
            "signoff_requested_at", "signed_off_at", "done_at", "changes_reason",
        ]
        read_only_fields = [
            "id", "project", "account", "position", "name", "needs_signoff", "signer_role", "state", "signer",
            "signer_name", "started_at", "signoff_requested_at", "signed_off_at", "done_at", "changes_reason",
        ]

    def get_signer_name(self, stage: Stage) -> str:
        return stage.signer.full_name if stage.signer is not None else ""


class StageDetailSerializer(StageSerializer):
    """One stage with its promises, the customer's answers and the latest sign-off link."""

    covered_promises = CoveredPromiseSerializer(source="promises", many=True, read_only=True)
    signoffs = SignOffSerializer(many=True, read_only=True, help_text="The customer's answers, oldest first.")
    signoff_link = serializers.SerializerMethodField(
        help_text="The latest sign-off link sent for this stage (null when none was): its dates, never its token.",
    )

    class Meta(StageSerializer.Meta):
        fields = [*StageSerializer.Meta.fields, "covered_promises", "signoffs", "signoff_link"]
        read_only_fields = [*StageSerializer.Meta.read_only_fields, "covered_promises", "signoffs", "signoff_link"]

    @extend_schema_field(CustomerLinkSerializer(allow_null=True))
    def get_signoff_link(self, stage: Stage) -> dict[str, Any] | None:
        link = (
            CustomerLink.objects.filter(purpose=CustomerLink.Purpose.SIGNOFF, target=CustomerLink.target_of(stage))
            .select_related("contact").order_by("-created_at", "-pk").first()
        )
        return CustomerLinkSerializer(link).data if link is not None else None


class StageSignoffRequestSerializer(ServiceOnly, serializers.Serializer):
    """Who signs the stage off, and what was delivered."""

    contact = VisibleContactField(
        help_text="The signer: an active contact of the account, with an email and the stage's signer role.",
    )
    delivered = MultiLineSerializerField(
        max_length=5000, required=False, allow_blank=True,
        help_text="What was delivered, shown to the customer; the stage's current text when left out.",
    )


# --- Problems -----------------------------------------------------------------------------------


class AttributionSerializer(serializers.Serializer):
    """Who a problem's promise traces back to: its frozen maker and the deal's frozen seller."""

    promise = serializers.IntegerField(source="promise.pk")
    description = serializers.CharField(source="promise.description")
    state = serializers.CharField(source="promise.state")
    deal = serializers.IntegerField(source="promise.deal_id")
    made_by = serializers.IntegerField(source="made_by.pk")
    made_by_name = serializers.SerializerMethodField()
    sold_by = serializers.SerializerMethodField(help_text="Null while the deal is not won.")
    sold_by_name = serializers.SerializerMethodField()

    def get_made_by_name(self, row: dict[str, Any]) -> str:
        return _display_name(row["made_by"])

    def get_sold_by(self, row: dict[str, Any]) -> int | None:
        return row["sold_by"].pk if row["sold_by"] is not None else None

    def get_sold_by_name(self, row: dict[str, Any]) -> str:
        return _display_name(row["sold_by"])


class ProblemSerializer(ModelSerializer):
    """A problem as listed. It changes only through resolve, close and reopen."""

    account_name = serializers.CharField(source="account.name", read_only=True)
    raised_by_name = serializers.SerializerMethodField()
    promises: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    hours_to_resolve = serializers.SerializerMethodField()

    class Meta:
        model = Problem
        fields = [
            "id", "account", "account_name", "project", "title", "description", "category", "severity", "source",
            "promises", "state", "raised_by", "raised_by_name", "raised_at", "resolution", "resolved_at",
            "resolved_by", "closed_at", "reopen_count", "hours_to_resolve",
        ]
        read_only_fields = fields

    def get_raised_by_name(self, problem: Problem) -> str:
        return _display_name(problem.raised_by) if problem.raised_by is not None else problem.raised_by_label

    def get_hours_to_resolve(self, problem: Problem) -> float | None:
        spent = problem.time_to_resolve
        return round(spent.total_seconds() / 3600, 2) if spent is not None else None


class ProblemDetailSerializer(ProblemSerializer):
    attribution = serializers.SerializerMethodField(
        help_text="Each promise named with its maker and the deal's seller, as frozen when made and sold.",
    )

    class Meta(ProblemSerializer.Meta):
        fields = [*ProblemSerializer.Meta.fields, "attribution"]
        read_only_fields = fields

    @extend_schema_field(AttributionSerializer(many=True))
    def get_attribution(self, problem: Problem) -> list[dict[str, Any]]:
        return list(AttributionSerializer(services.problem_attribution(problem), many=True).data)


class ProblemCreateSerializer(ServiceOnly, serializers.Serializer):
    """Raising a problem from the API: the source is always staff and the raiser is you."""

    account = VisibleAccountField(help_text="The account it happened on (one you can see).")
    title = SingleLineSerializerField(max_length=200)
    description = MultiLineSerializerField(max_length=10000, required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(
        choices=Problem.Category.choices, help_text="customer_change does not break the promises named.",
    )
    severity = serializers.ChoiceField(choices=Problem.Severity.choices, help_text="critical alerts the team.")
    promises = VisiblePromisesField(
        required=False, default=list,
        help_text="Ids of the account's promises involved; each is marked broken unless the category is "
        "customer_change (only once its handover is accepted).",
    )
    project = VisibleProjectField(
        required=False, allow_null=True, default=None,
        help_text="The delivery of this account it concerns; found from the promises when left out.",
    )


class ResolutionSerializer(ServiceOnly, serializers.Serializer):
    """How the problem was resolved."""

    resolution = MultiLineSerializerField(max_length=5000, help_text="How it was resolved.")


class ReopenSerializer(ServiceOnly, serializers.Serializer):
    """Why the problem is open again."""

    reason = MultiLineSerializerField(max_length=5000, help_text="Why the problem is open again.")


# --- Customer portal links ----------------------------------------------------------------------


class PortalLinkRequestSerializer(ServiceOnly, serializers.Serializer):
    """The account whose portal the link opens, and the contact it is emailed to."""

    account = VisibleAccountField(help_text="The account whose portal the link opens.")
    contact = VisibleContactField(help_text="Who receives it: an active contact of the account with an email.")


class PortalLinkRevokeSerializer(ServiceOnly, serializers.Serializer):
    """The account whose live portal link ends."""

    account = VisibleAccountField(help_text="The account whose live portal link is revoked.")


class PortalLinkRevokedSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="How many live links were revoked (0 or 1).")
