"""The bell's API (/api/v1/notifications/): your notifications (`?unread=1` for the unread
ones), marking one or all read, and your email choices per kind. Each user reaches only their
own: another's notification answers 404 like a missing one."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.views import ApiViewSet
from outbox import permissions, selectors, services
from outbox.api import serializers as s
from outbox.models import Notification

TRUE, FALSE = {"1", "true", "yes"}, {"0", "false", "no", ""}


@extend_schema_view(
    list=extend_schema(
        summary="Your notifications, newest first",
        parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="1: only the unread ones.")],
    ),
)
@extend_schema(tags=["notifications"])
class NotificationViewSet(mixins.ListModelMixin, ApiViewSet):
    """The bell: every notice that emailed you (or would have, had you not turned its email off)."""

    serializer_class = s.NotificationSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        raw = (self.request.query_params.get("unread") or "").strip().lower()
        if raw not in TRUE | FALSE:
            raise ValidationError({"unread": "Use 1 for the unread ones, 0 or nothing for all."})
        return selectors.notifications_of(self.request.user, unread=raw in TRUE)

    def get_object(self) -> Any:
        # Only the `read` action names one notification (and looks it up itself); DRF's OPTIONS
        # asks for an object on the other actions that take a body (`preferences`), which have none.
        if "pk" not in self.kwargs:
            raise Http404
        return permissions.get_notification_for(self.request.user, self.kwargs["pk"])

    @extend_schema(summary="Mark one of your notifications read", request=None,
                   responses={200: s.NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        notification = permissions.get_notification_for(request.user, pk)
        services.notification_read(notification=notification, by=request.user)
        return Response(s.NotificationSerializer(notification).data)

    @extend_schema(summary="Mark all your notifications read", request=None, responses={200: s.ReadAllSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        return Response({"marked": services.notifications_read_all(by=request.user)})

    @extend_schema(methods=["GET"], summary="Your email choices per kind of notification",
                   responses={200: s.EmailChoicesSerializer})
    @extend_schema(methods=["PUT"], summary="Choose per kind whether you also get the email",
                   request=s.EmailChoicesSerializer, responses={200: s.EmailChoicesSerializer})
    @action(detail=False, methods=["get", "put"])
    def preferences(self, request: Request) -> Response:
        if request.method == "PUT":
            data = self._body(s.EmailChoicesSerializer)
            # An unknown topic is the service's ValidationError, answered 400 by core.api.errors.
            choices = services.email_choices_set(user=request.user, by=request.user, choices=data["email"])
        else:
            choices = selectors.email_choices(request.user)
        return Response(s.EmailChoicesSerializer(choices).data)
