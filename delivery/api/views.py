"""The delivery API (/api/v1/plan-templates/, projects/, stages/, problems/, portal-links/), on
crm.api's base classes: find what the user may see (404), check the role (403) before the body
(400), then call the one delivery service that writes. Illegal transitions answer 409
(core.api.errors). The customer-facing sign-off and portal pages are not part of this API."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.filters import IdFilter
from core.api.schema import errors
from core.api.views import ApiViewSet, ServiceCreateMixin
from crm.permissions import get_visible_or_404
from customer_links.models import CustomerLink
from delivery import permissions, services
from delivery.api import serializers as s
from delivery.models import PlanTemplate, PlanTemplateStage, Problem, Project, SignOff, Stage
from flows import actions as flows
from handover.models import Promise

# --- Filters ------------------------------------------------------------------------------------


class PlanTemplateFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter(help_text="false: plans no longer offered when accepting.")

    class Meta:
        model = PlanTemplate
        fields = ["is_active"]


class ProjectFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Project.State.choices)
    owner = IdFilter(field_name="owner_id", help_text="Deliveries owned by this user id.")
    account = IdFilter(field_name="account_id")

    class Meta:
        model = Project
        fields = ["state", "owner", "account"]


class StageFilter(django_filters.FilterSet):
    project = IdFilter(field_name="project_id")
    account = IdFilter(field_name="account_id")
    state = django_filters.ChoiceFilter(choices=Stage.State.choices)

    class Meta:
        model = Stage
        fields = ["project", "account", "state"]


class ProblemFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Problem.State.choices)
    severity = django_filters.ChoiceFilter(choices=Problem.Severity.choices)
    category = django_filters.ChoiceFilter(choices=Problem.Category.choices)
    source = django_filters.ChoiceFilter(choices=Problem.Source.choices)
    account = IdFilter(field_name="account_id")
    project = IdFilter(field_name="project_id")

    class Meta:
        model = Problem
        fields = ["state", "severity", "category", "source", "account", "project"]


# --- Plan templates -----------------------------------------------------------------------------


def _plans(queryset: Any) -> Any:
    return queryset.prefetch_related(Prefetch("stages", queryset=PlanTemplateStage.objects.order_by("position")))


@extend_schema_view(
    list=extend_schema(summary="Delivery plan templates and their stages (picked when accepting a handover)"),
    retrieve=extend_schema(summary="One delivery plan template with its stages"),
)
@extend_schema(tags=["plan-templates"])
class PlanTemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Read-only: administrators edit the plans in the admin."""

    serializer_class = s.PlanTemplateSerializer
    filterset_class = PlanTemplateFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return PlanTemplate.objects.none()
        return _plans(PlanTemplate.objects.all()).order_by("name", "pk")

    def get_object(self) -> PlanTemplate:
        return get_visible_or_404(self.get_queryset(), self.kwargs["pk"])  # type: ignore[no-any-return]


# --- Projects -----------------------------------------------------------------------------------


def _projects(queryset: Any) -> Any:
    return queryset.select_related("account", "deal", "owner", "template").prefetch_related(
        Prefetch("stages", queryset=Stage.objects.order_by("position"))
    )


@extend_schema_view(
    list=extend_schema(summary="Delivery projects on accounts you may see, each with its stages"),
    retrieve=extend_schema(summary="One delivery project with its stages"),
)
@extend_schema(tags=["projects"])
class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Read-only: a project is started by accepting a handover and moves through its stages."""

    serializer_class = s.ProjectSerializer
    filterset_class = ProjectFilter
    search_fields = ["deal__name", "account__name"]
    ordering_fields = ["started_at", "completed_at"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return _projects(Project.objects.visible_to(self.request.user)).order_by("-started_at", "-pk")

    def get_object(self) -> Project:
        project = permissions.get_project_for(self.request.user, self.kwargs["pk"])
        return _projects(Project.objects.all()).get(pk=project.pk)  # type: ignore[no-any-return]


# --- Stages -------------------------------------------------------------------------------------


def _stages(queryset: Any) -> Any:
    return queryset.select_related("signer").prefetch_related(
        Prefetch("promises", queryset=Promise.objects.order_by("pk"))
    )


def _stage_detail(pk: int) -> Stage:
    return (  # type: ignore[no-any-return]
        Stage.objects.select_related("signer")
        .prefetch_related(
            Prefetch("promises", queryset=Promise.objects.select_related("made_by").order_by("pk")),
            Prefetch("signoffs", queryset=SignOff.objects.select_related("contact").order_by("created_at", "pk")),
        )
        .get(pk=pk)
    )


@extend_schema_view(
    list=extend_schema(summary="Delivery stages on accounts you may see"),
    retrieve=extend_schema(summary="One stage with its promises, the customer's answers and the latest sign-off link"),
    partial_update=extend_schema(
        summary="Change a stage's due date, description, what was delivered or the promises it fulfils",
        description="The delivery owner, delivery managers and administrators; not once the delivery is complete.",
        request=s.StageSerializer, responses={200: s.StageDetailSerializer, **errors(409)},
    ),
)
@extend_schema(tags=["stages"])
class StageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """A delivery project's stages. The state changes only through start, request-signoff and
    complete (and the customer's answer on the sign-off link, which is not in this API)."""

    serializer_class = s.StageSerializer
    filterset_class = StageFilter
    search_fields = ["name"]
    ordering_fields = ["position", "due_date", "signoff_requested_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Stage.objects.none()
        return _stages(Stage.objects.visible_to(self.request.user)).order_by("-project_id", "position", "pk")

    def get_serializer_class(self) -> Any:
        if self.action == "list":
            return s.StageSerializer
        return s.StageDetailSerializer

    def get_object(self) -> Stage:
        stage = permissions.get_stage_for(self.request.user, self.kwargs["pk"])
        if self.action == "retrieve":
            return _stage_detail(stage.pk)
        return stage

    def _answer(self, stage: Stage) -> Response:
        return Response(s.StageDetailSerializer(_stage_detail(stage.pk), context=self.get_serializer_context()).data)

    def _require_runner(self, stage: Stage) -> None:
        permissions.require_can_run_delivery(self.request.user, stage.project)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        stage = self.get_object()
        self._require_runner(stage)
        serializer = s.StageSerializer(stage, data=request.data, partial=True, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        promises = data.pop("promises", None)
        # One transaction: a refused promise list leaves the other fields unchanged too.
        with transaction.atomic():
            services.stage_update(stage=stage, by=request.user, **data)
            if promises is not None:
                services.stage_set_promises(stage=stage, by=request.user, promises=promises)
        return self._answer(stage)

    @extend_schema(summary="Start a planned stage, or restart one the customer asked changes to", request=None,
                   responses={200: s.StageDetailSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        stage = self.get_object()
        self._require_runner(stage)
        return self._answer(services.stage_start(stage=stage, by=request.user))

    @extend_schema(
        summary="Ask a customer contact to sign the stage off (emails them a single-use link)",
        description="The stage must be in progress (or already awaiting sign-off: the new link revokes the "
        "previous one). The answer shows the link's dates in `signoff_link`; the token is only in the email.",
        request=s.StageSignoffRequestSerializer, responses={200: s.StageDetailSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"], url_path="request-signoff")
    def request_signoff(self, request: Request, pk: str | None = None) -> Response:
        stage = self.get_object()
        self._require_runner(stage)
        data = self._body(s.StageSignoffRequestSerializer)
        services.stage_request_signoff(
            stage=stage, by=request.user, contact=data["contact"], delivered=data.get("delivered"),
        )
        return self._answer(stage)

    @extend_schema(summary="Complete a stage the customer does not sign off", request=None,
                   responses={200: s.StageDetailSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        stage = self.get_object()
        self._require_runner(stage)
        return self._answer(flows.stage_complete(stage=stage, by=request.user))


# --- Problems -----------------------------------------------------------------------------------


def _problems(queryset: Any) -> Any:
    return queryset.select_related("account", "raised_by").prefetch_related(
        Prefetch("promises", queryset=Promise.objects.order_by("pk"))
    )


@extend_schema_view(
    list=extend_schema(summary="Problems on accounts you may see", description="Search matches the title."),
    retrieve=extend_schema(summary="One problem with each promise traced to its maker and the deal's seller"),
    create=extend_schema(
        summary="Raise a problem (you are its raiser; the source is staff)",
        description="Each promise named is marked broken unless the category is customer_change. "
        "A critical problem emails the delivery owner, the delivery managers and the account's sales rep.",
        request=s.ProblemCreateSerializer, responses={201: s.ProblemDetailSerializer},
    ),
)
@extend_schema(tags=["problems"])
class ProblemViewSet(ServiceCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """What went wrong after the sale. Nothing is deleted or edited: a problem is resolved,
    closed or reopened."""

    serializer_class = s.ProblemSerializer
    create_serializer_class = s.ProblemCreateSerializer
    filterset_class = ProblemFilter
    search_fields = ["title"]
    ordering_fields = ["raised_at", "resolved_at"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Problem.objects.none()
        return _problems(Problem.objects.visible_to(self.request.user)).order_by("-raised_at", "-pk")

    def get_serializer_class(self) -> Any:
        if self.action == "list":
            return s.ProblemSerializer
        return s.ProblemDetailSerializer

    def get_object(self) -> Problem:
        return permissions.get_problem_for(self.request.user, self.kwargs["pk"])

    def _fresh(self, problem: Problem) -> Problem:
        return _problems(Problem.objects.all()).get(pk=problem.pk)  # type: ignore[no-any-return]

    def _answer(self, problem: Problem) -> Response:
        return Response(s.ProblemDetailSerializer(self._fresh(problem), context=self.get_serializer_context()).data)

    def perform_service_create(self, data: dict[str, Any]) -> Problem:
        problem = services.problem_raise(by=self.request.user, source=Problem.Source.STAFF, **data)
        return self._fresh(problem)

    @extend_schema(summary="Resolve an open problem, saying how (the delivery owner or a delivery manager)",
                   request=s.ResolutionSerializer, responses={200: s.ProblemDetailSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        problem = self.get_object()
        permissions.require_can_work_problem(request.user, problem)
        data = self._body(s.ResolutionSerializer)
        return self._answer(services.problem_resolve(problem=problem, by=request.user, **data))

    @extend_schema(summary="Close a resolved problem (the delivery owner or a delivery manager)", request=None,
                   responses={200: s.ProblemDetailSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        problem = self.get_object()
        permissions.require_can_work_problem(request.user, problem)
        return self._answer(services.problem_close(problem=problem, by=request.user))

    @extend_schema(summary="Reopen a resolved or closed problem, saying why (the account team)",
                   request=s.ReopenSerializer, responses={200: s.ProblemDetailSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        problem = self.get_object()
        permissions.require_can_raise_problem(request.user, problem.account)
        data = self._body(s.ReopenSerializer)
        return self._answer(services.problem_reopen(problem=problem, by=request.user, **data))


# --- Customer portal links ----------------------------------------------------------------------


@extend_schema(tags=["portal-links"])
class PortalLinkViewSet(ApiViewSet):
    """The account's read-only customer portal: one live link at a time, emailed to a contact."""

    serializer_class = s.CustomerLinkSerializer

    @extend_schema(
        summary="Email a contact a link to the account's customer portal (replaces the live one)",
        description="The account team and managers. The answer shows the link's dates; the token is only in "
        "the email.",
        request=s.PortalLinkRequestSerializer, responses={201: s.CustomerLinkSerializer},
    )
    def create(self, request: Request) -> Response:
        data = self._body(s.PortalLinkRequestSerializer)
        link = services.portal_link_issue(by=request.user, **data)
        fresh = CustomerLink.objects.select_related("contact").get(pk=link.pk)
        return Response(s.CustomerLinkSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke the account's live customer portal link", request=s.PortalLinkRevokeSerializer,
                   responses={200: s.PortalLinkRevokedSerializer})
    @action(detail=False, methods=["post"])
    def revoke(self, request: Request) -> Response:
        data = self._body(s.PortalLinkRevokeSerializer)
        revoked = services.portal_link_revoke(by=request.user, **data)
        return Response(s.PortalLinkRevokedSerializer({"revoked": revoked}).data)
