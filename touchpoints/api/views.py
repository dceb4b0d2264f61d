"""The touchpoints API (/api/v1/touchpoints/, /api/v1/agendas/), on crm.api's base classes:
find what the user may see (404), check the role (403) before the body (400), then call the one
touchpoints service that writes. Illegal transitions answer 409 (core.api.errors). Touchpoints
are made by the agenda and by follow-ups, never through this API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import Prefetch, QuerySet
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.filters import IdFilter
from core.api.schema import errors
from core.api.views import ApiViewSet
from crm import roles
from crm.permissions import get_visible_or_404
from touchpoints import permissions, services
from touchpoints.api import serializers as s
from touchpoints.models import AgendaStep, AgendaTemplate, Kind, Touchpoint


class HasRole(IsAuthenticated):
    """Staff: a signed-in user holding one of the product's roles."""

    message = "Only staff with a role see this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return super().has_permission(request, view) and bool(roles.role_names(request.user))


# --- Filters ------------------------------------------------------------------------------------


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 moment, turned into UTC: ISO allows offsets up to 23:59 but PostgreSQL refuses
    anything beyond 15:59, and a moment outside years 1-9999 in UTC is an error, not a 500."""

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Enter a date and time between the years 1 and 9999.",
                                        code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class TouchpointFilter(django_filters.FilterSet):
    owner = IdFilter(field_name="owner_id", help_text="Touchpoints owned by this user id.")
    account = IdFilter(field_name="account_id")
    state = django_filters.ChoiceFilter(choices=Touchpoint.State.choices)
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    due_after = UtcDateTimeFilter(field_name="due_at", lookup_expr="gte", help_text="Due at or after this time.")
    due_before = UtcDateTimeFilter(field_name="due_at", lookup_expr="lt", help_text="Due before this time.")
    mine = django_filters.BooleanFilter(method="filter_mine", help_text="Only the touchpoints I own.")

    class Meta:
        model = Touchpoint
        fields = ["owner", "account", "state", "kind", "due_after", "due_before", "mine"]

    def filter_mine(self, queryset: QuerySet[Touchpoint], name: str, value: bool | None) -> QuerySet[Touchpoint]:
        if not value:
            return queryset
        return queryset.filter(owner=self.request.user)  # type: ignore[union-attr,misc]


class AgendaFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter(help_text="false: agendas no longer scheduled.")

    class Meta:
        model = AgendaTemplate
        fields = ["is_active"]


# --- Agendas ------------------------------------------------------------------------------------


def _agendas(queryset: Any) -> Any:
    return queryset.prefetch_related(Prefetch("steps", queryset=AgendaStep.objects.order_by("position", "pk")))


@extend_schema_view(
    list=extend_schema(summary="Agenda templates and their steps (scheduled when a handover is accepted)"),
    retrieve=extend_schema(summary="One agenda template with its steps"),
)
@extend_schema(tags=["agendas"])
class AgendaViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Read-only, for staff: administrators edit the agendas in the admin."""

    serializer_class = s.AgendaTemplateSerializer
    permission_classes = [HasRole]
    filterset_class = AgendaFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return AgendaTemplate.objects.none()
        return _agendas(AgendaTemplate.objects.all()).order_by("name", "pk")

    def get_object(self) -> AgendaTemplate:
        return get_visible_or_404(self.get_queryset(), self.kwargs["pk"])  # type: ignore[no-any-return]


# --- Touchpoints --------------------------------------------------------------------------------


def _touchpoints(queryset: Any) -> Any:
    return queryset.select_related("account", "owner", "contact", "completed_by", "survey_response")


@extend_schema_view(
    list=extend_schema(
        summary="Touchpoints on accounts you may see, soonest due first",
        description="Search matches the title and the account's name.",
    ),
    retrieve=extend_schema(summary="One touchpoint with its outcome and the customer's survey answer"),
)
@extend_schema(tags=["touchpoints"])
class TouchpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Check-ups scheduled from the agenda (and follow-ups). Nothing is created, edited or deleted
    here: a touchpoint is completed with its outcome, skipped, cancelled or rescheduled, by its
    owner or a manager."""

    serializer_class = s.TouchpointSerializer
    filterset_class = TouchpointFilter
    search_fields = ["title", "account__name"]
    ordering_fields = ["due_at", "created_at", "closed_at"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Touchpoint.objects.none()
        return _touchpoints(Touchpoint.objects.visible_to(self.request.user)).order_by("due_at", "pk")

    def get_object(self) -> Touchpoint:
        touchpoint = permissions.get_touchpoint_for(self.request.user, self.kwargs["pk"])
        if self.action == "retrieve":
            return _touchpoints(Touchpoint.objects.all()).get(pk=touchpoint.pk)  # type: ignore[no-any-return]
        return touchpoint

    def _workable(self) -> Touchpoint:
        """The touchpoint (404 when not visible), then the role (403) before any body is read."""
        touchpoint = self.get_object()
        permissions.require_can_work(self.request.user, touchpoint)
        return touchpoint

    def _answer(self, touchpoint: Touchpoint) -> Response:
        fresh = _touchpoints(Touchpoint.objects.all()).get(pk=touchpoint.pk)
        return Response(s.TouchpointSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Record the outcome of a scheduled touchpoint (its owner or a manager)",
        description="Satisfaction 1-5 (except for a thank-you note) and whether everything was as expected are "
        "required. A `follow_up_at` "
        "schedules a follow-up check-up; a `problem_title` opens a problem on the account (source check-up).",
        request=s.TouchpointCompleteSerializer, responses={200: s.TouchpointSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        touchpoint = self._workable()
        serializer = s.TouchpointCompleteSerializer(
            data=request.data, context={**self.get_serializer_context(), "touchpoint": touchpoint},
        )
        serializer.is_valid(raise_exception=True)
        data = {"satisfaction": None, **serializer.validated_data}
        return self._answer(services.touchpoint_complete(touchpoint=touchpoint, by=request.user, **data))

    @extend_schema(summary="Skip a scheduled touchpoint, saying why (its owner or a manager)",
                   request=s.TouchpointReasonSerializer, responses={200: s.TouchpointSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk: str | None = None) -> Response:
        touchpoint = self._workable()
        data = self._body(s.TouchpointReasonSerializer)
        return self._answer(services.touchpoint_skip(touchpoint=touchpoint, by=request.user, **data))

    @extend_schema(summary="Cancel a scheduled touchpoint, saying why (its owner or a manager)",
                   request=s.TouchpointReasonSerializer, responses={200: s.TouchpointSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        touchpoint = self._workable()
        data = self._body(s.TouchpointReasonSerializer)
        return self._answer(services.touchpoint_cancel(touchpoint=touchpoint, by=request.user, **data))

    @extend_schema(
        summary="Move a scheduled touchpoint to a new due time (its owner or a manager)",
        description="Reminders follow the new time; a survey not yet sent goes out at the new time.",
        request=s.TouchpointRescheduleSerializer, responses={200: s.TouchpointSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: str | None = None) -> Response:
        touchpoint = self._workable()
        data = self._body(s.TouchpointRescheduleSerializer)
        return self._answer(services.touchpoint_reschedule(touchpoint=touchpoint, by=request.user, **data))
