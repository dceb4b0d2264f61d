"""The dashboards' figures as JSON under /api/v1/insights/, with the pages' filters (start, end,
team) and the pages' permission rules: managers and administrators see everything; a sales rep or
pre-sales consultant gets their own scorecard from /performance/ and 403 elsewhere."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import ApiAutoSchema, errors
from insights import permissions, snapshots
from insights.api import serializers as s
from insights.forms import FilterForm, Filters

FILTERS = [
    OpenApiParameter("start", str, description="First day of the period, YYYY-MM-DD (default: 89 days before end)."),
    OpenApiParameter("end", str, description="Last day of the period, included, YYYY-MM-DD (default: today)."),
    OpenApiParameter("team", int, description="A manager's user id: the people reporting to them, and them."),
]
FRESH = OpenApiParameter(
    "fresh", bool, description="Recompute now instead of reusing figures computed in the last 120 seconds."
)


class InsightsView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    schema = ApiAutoSchema()

    def filters(self, request: Request) -> Filters:
        """Bad filters are a 400 here (the pages fall back to the default period instead)."""
        form = FilterForm(request.query_params)
        if not form.is_valid():
            raise ValidationError({k: [str(e) for e in v] for k, v in form.errors.items()})
        return form.filters()


@extend_schema(tags=["insights"])
class PerformanceView(InsightsView):
    @extend_schema(
        summary="Scorecards per rep and pre-sales consultant over a period, with the team total and monthly trend",
        description="Attribution uses the frozen seller and promise maker. A rep or pre-sales consultant gets only "
        "their own row (and no total).",
        parameters=[*FILTERS, FRESH], responses={200: s.PerformanceSerializer, **errors(400)},
    )
    def get(self, request: Request) -> Response:
        permissions.require_scorecards(request.user)
        f = self.filters(request)
        snap = snapshots.performance_figures(
            filters=f, viewer=request.user, fresh=snapshots.wants_fresh(request.query_params)
        )
        perf, trend = snap.value
        data: dict[str, Any] = {"period": perf.period, "team": perf.team, "rows": perf.rows, "total": perf.total,
                                "trend": trend, "as_of": snap.as_of}
        return Response(s.PerformanceSerializer(data).data)


@extend_schema(tags=["insights"])
class RiskView(InsightsView):
    @extend_schema(
        summary="Customers in their first 90 days ranked by early-life risk, each with the reasons for its score",
        parameters=[*FILTERS[2:], FRESH], responses={200: s.RiskSerializer, **errors(400)},
    )
    def get(self, request: Request) -> Response:
        permissions.require_dashboards(request.user)
        f = self.filters(request)
        snap = snapshots.risk_figures(filters=f, viewer=request.user, fresh=snapshots.wants_fresh(request.query_params))
        return Response(s.RiskSerializer(snap.value).data)


@extend_schema(tags=["insights"])
class ReassignmentView(InsightsView):
    @extend_schema(
        summary="Accounts per owner, orphans, single-threaded customers and the period's ownership changes",
        parameters=[*FILTERS, FRESH], responses={200: s.ReassignmentSerializer, **errors(400)},
    )
    def get(self, request: Request) -> Response:
        permissions.require_dashboards(request.user)
        f = self.filters(request)
        snap = snapshots.reassignment_figures(
            filters=f, viewer=request.user, fresh=snapshots.wants_fresh(request.query_params)
        )
        return Response({**s.ReassignmentSerializer(snap.value).data, "as_of": snap.as_of})


@extend_schema(tags=["insights"])
class DeliveryView(InsightsView):
    @extend_schema(
        summary="Handovers waiting with their deadlines, projects by stage, problems by category",
        parameters=[*FILTERS, FRESH], responses={200: s.DeliverySerializer, **errors(400)},
    )
    def get(self, request: Request) -> Response:
        permissions.require_dashboards(request.user)
        f = self.filters(request)
        snap = snapshots.delivery_figures(
            filters=f, viewer=request.user, fresh=snapshots.wants_fresh(request.query_params)
        )
        return Response({**s.DeliverySerializer(snap.value).data, "as_of": snap.as_of})
