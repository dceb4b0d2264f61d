"""The handover API (/api/v1/promises/, /api/v1/handovers/), on crm.api's base classes: find
what the user may see (404), check the role (403) before the body (400), then call the one
handover service that writes. Illegal or concurrent transitions answer 409 (core.api.errors)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.filters import IdFilter
from core.api.schema import errors
from core.api.views import ApiViewSet, ServiceCreateMixin, ServiceUpdateMixin
from crm import roles
from crm.api.serializers import ActivitySerializer
from crm.models import Activity
from flows import actions as flows
from handover import permissions, services
from handover.api import serializers as s
from handover.models import Handover, HandoverContact, Promise

# --- Filters --------------------------------------------------------------------------------


class PromiseFilter(django_filters.FilterSet):
    deal = IdFilter(field_name="deal_id")
    account = IdFilter(field_name="account_id")
    state = django_filters.ChoiceFilter(choices=Promise.State.choices)
    kind = django_filters.ChoiceFilter(choices=Promise.Kind.choices)

    class Meta:
        model = Promise
        fields = ["deal", "account", "state", "kind"]


class HandoverFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Handover.State.choices)
    rep = IdFilter(field_name="rep_id", help_text="Handovers prepared by this user id.")
    account = IdFilter(field_name="account_id")

    class Meta:
        model = Handover
        fields = ["state", "rep", "account"]


def _require_rep_or_sales_manager(user: Any, promise: Promise) -> None:
    """Who documents a reset or a withdrawal: the account's sales team, or a sales manager
    (the rep cannot touch promises once submitted; the manager can)."""
    if roles.has_role(user, roles.SALES_MANAGER):
        return
    permissions.require_can_record_promise(user, promise.account)


# --- Promises -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Promises on accounts you may see, with their reviews"),
    retrieve=extend_schema(summary="One promise with every review and the latest of each kind"),
    create=extend_schema(
        summary="Record a promise made to the customer (you are its maker, for ever)",
        request=s.PromiseCreateSerializer, responses={201: s.PromiseSerializer, **errors(409)},
    ),
    partial_update=extend_schema(
        summary="Change an active promise while its handover is being prepared",
        responses={200: s.PromiseSerializer, **errors(409)},
    ),
)
@extend_schema(tags=["promises"])
class PromiseViewSet(
    ServiceCreateMixin, ServiceUpdateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet,
):
    """What the customer was told. Nothing is deleted: a promise is reset or withdrawn (405 on DELETE)."""

    serializer_class = s.PromiseSerializer
    create_serializer_class = s.PromiseCreateSerializer
    filterset_class = PromiseFilter
    search_fields = ["description"]
    ordering_fields = ["made_at", "due_date"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Promise.objects.none()
        return Promise.objects.visible_to(self.request.user).with_reviews().order_by("-made_at", "-pk")

    def get_object(self) -> Promise:
        return permissions.get_promise_for(self.request.user, self.kwargs["pk"])

    def _fresh(self, promise: Promise) -> Promise:
        """The promise re-read with its reviews (the answer shows the review just written)."""
        return Promise.objects.with_reviews().get(pk=promise.pk)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The role first: only reps and pre-sales consultants make promises, whatever the body says.
        if not roles.has_role(request.user, roles.SALES_REP, roles.PRESALES):
            raise PermissionDenied("Only reps and pre-sales consultants record promises.")
        return super().create(request, *args, **kwargs)

    def perform_service_create(self, data: dict[str, Any]) -> Promise:
        return self._fresh(services.promise_record(by=self.request.user, **data))

    def check_can_write(self, instance: Promise) -> None:
        permissions.require_can_record_promise(self.request.user, instance.account)

    def perform_service_update(self, instance: Promise, data: dict[str, Any]) -> Promise:
        return self._fresh(services.promise_update(promise=instance, by=self.request.user, **data))

    @extend_schema(
        summary="Review a promise: a sales manager's review or a delivery manager's feasibility review",
        description="The reviewer's role decides which review it is; someone holding both roles names the `kind`. "
        "Every review is kept; the latest of each kind counts.",
        request=s.PromiseReviewRequestSerializer, responses={200: s.PromiseSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        promise = self.get_object()
        permissions.review_kind_for(request.user)  # 403 for someone who reviews nothing
        data = self._body(s.PromiseReviewRequestSerializer)
        services.promise_review(promise=promise, by=request.user, **data)
        return Response(s.PromiseSerializer(self._fresh(promise), context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Document an expectation reset agreed with the customer",
        request=s.PromiseResetSerializer, responses={200: s.PromiseSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"])
    def reset(self, request: Request, pk: str | None = None) -> Response:
        promise = self.get_object()
        _require_rep_or_sales_manager(request.user, promise)
        data = self._body(s.PromiseResetSerializer)
        services.promise_reset(promise=promise, by=request.user, **data)
        return Response(s.PromiseSerializer(self._fresh(promise), context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Withdraw a promise, saying why (it stays visible)",
        request=s.ReasonSerializer, responses={200: s.PromiseSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        promise = self.get_object()
        _require_rep_or_sales_manager(request.user, promise)
        data = self._body(s.ReasonSerializer)
        services.promise_withdraw(promise=promise, by=request.user, **data)
        return Response(s.PromiseSerializer(self._fresh(promise), context=self.get_serializer_context()).data)


# --- Handovers ------------------------------------------------------------------------------


def _with_relations(queryset: Any) -> Any:
    return queryset.select_related("deal", "account", "rep", "delivery_owner").prefetch_related(
        Prefetch("contacts", queryset=HandoverContact.objects.select_related("contact").order_by("pk")),
        "vendor_attendees",
        "customer_attendees",
    )


@extend_schema_view(
    list=extend_schema(summary="Handovers on accounts you may see"),
    retrieve=extend_schema(summary="One handover with what it is waiting for"),
    partial_update=extend_schema(
        summary="Complete the handover (while draft, returned or rejected)",
        request=s.HandoverSerializer, responses={200: s.HandoverDetailSerializer, **errors(409)},
    ),
)
@extend_schema(tags=["handovers"])
class HandoverViewSet(ServiceUpdateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """One handover per won deal, drafted when the deal is won. Its state changes only through
    submit, approve, return, accept and reject."""

    serializer_class = s.HandoverSerializer
    filterset_class = HandoverFilter
    search_fields = ["deal__name", "account__name"]
    ordering_fields = ["created_at", "accept_deadline", "submitted_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Handover.objects.none()
        return _with_relations(Handover.objects.visible_to(self.request.user)).order_by("-created_at", "-pk")

    def get_serializer_class(self) -> Any:
        if self.action == "list":
            return s.HandoverSerializer
        return s.HandoverDetailSerializer

    def get_object(self) -> Handover:
        return permissions.get_handover_for(self.request.user, self.kwargs["pk"])

    def _answer(self, handover: Handover) -> Response:
        # Re-read: the services lock and reload, and the prefetched lists may have changed.
        fresh = _with_relations(Handover.objects.all()).get(pk=handover.pk)
        return Response(s.HandoverDetailSerializer(fresh, context=self.get_serializer_context()).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        handover = self.get_object()
        self.check_can_write(handover)
        serializer = s.HandoverSerializer(handover, data=request.data, partial=True,
                                          context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "contacts" in data:
            data["contacts"] = [(row["contact"], row.get("delivery_role", "")) for row in data["contacts"]]
        services.handover_update(handover=handover, by=request.user, **data)
        return self._answer(handover)

    def check_can_write(self, instance: Handover) -> None:
        permissions.require_can_prepare_handover(self.request.user, instance)

    @extend_schema(summary="Submit the handover to sales management", request=None,
                   responses={200: s.HandoverDetailSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        handover = self.get_object()
        self.check_can_write(handover)
        return self._answer(services.handover_submit(handover=handover, by=request.user))

    @extend_schema(summary="Approve a submitted handover (sales manager); the acceptance deadline starts",
                   request=None, responses={200: s.HandoverDetailSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        handover = self.get_object()
        permissions.require_sales_manager(request.user)
        return self._answer(services.handover_approve(handover=handover, by=request.user))

    @extend_schema(summary="Return a submitted handover to the rep, saying why (sales manager)",
                   request=s.ReasonSerializer, responses={200: s.HandoverDetailSerializer, **errors(409)})
    @action(detail=True, methods=["post"], url_path="return")
    def return_to_rep(self, request: Request, pk: str | None = None) -> Response:
        handover = self.get_object()
        permissions.require_sales_manager(request.user)
        data = self._body(s.ReasonSerializer)
        return self._answer(services.handover_return(handover=handover, by=request.user, **data))

    @extend_schema(
        summary="Accept an approved handover and name its delivery owner (delivery manager)",
        description="In one transaction: the state, the delivery owner on the account team, an ownership-ledger "
        "row and the events; after commit, the customer's contacts, the rep and the owner are emailed.",
        request=s.HandoverAcceptSerializer, responses={200: s.HandoverDetailSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        handover = self.get_object()
        permissions.require_delivery_manager(request.user)
        data = self._body(s.HandoverAcceptSerializer)
        template = data.pop("plan_template", None)
        options = {"plan_template": template} if template else {}
        return self._answer(
            flows.handover_accept(handover=handover, by=request.user, options=options, **data)
        )

    @extend_schema(summary="Reject an approved handover back to the rep, saying why (delivery manager)",
                   request=s.ReasonSerializer, responses={200: s.HandoverDetailSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        handover = self.get_object()
        permissions.require_delivery_manager(request.user)
        data = self._body(s.ReasonSerializer)
        return self._answer(services.handover_reject(handover=handover, by=request.user, **data))

    @extend_schema(summary="The handover's history: promise and handover events on the deal, newest first",
                   responses=ActivitySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        handover = self.get_object()
        queryset = (
            Activity.objects.filter(deal_id=handover.deal_id)
            .filter(Q(event_type__startswith="handover.") | Q(event_type__startswith="promise."))
            .select_related("actor").order_by("-occurred_at", "-pk")
        )
        return self._paginated(queryset, ActivitySerializer)

