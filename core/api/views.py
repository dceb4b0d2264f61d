"""The base classes of every app's API views: one authentication, one body parser, one way to
create and update through a service."""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.filters import SearchFilter
from core.api.parsers import JSONBodyParser
from core.api.schema import ApiAutoSchema


class StableOrderingFilter(OrderingFilter):
    """Client ordering, with the primary key last so pages never repeat or skip rows."""

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> Any:
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not {"pk", "-pk", "id", "-id"} & set(ordering):
            ordering = [*ordering, "pk"]
        return ordering


class ApiViewSet(viewsets.GenericViewSet):
    """The base of every API view set: token or session authentication, JSON bodies, filters,
    stable ordering and the schema's shared error answers."""

    # Token first: an API client without credentials gets 401 with `WWW-Authenticate: Token`.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    # JSON only: nested bodies (line items, assignments) have no form encoding.
    parser_classes = [JSONBodyParser]
    filter_backends = [DjangoFilterBackend, SearchFilter, StableOrderingFilter]
    schema = ApiAutoSchema()
    # Any path segment reaches the view, so `/deals/0.5/` answers the API's JSON 404 rather than
    # the site's HTML one (the permission helpers turn non-numbers into 404).
    lookup_value_regex = "[^/]+"

    def _body(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _paginated(self, queryset: Any, serializer_class: Any) -> Response:
        page = self.paginate_queryset(queryset)
        rows = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(rows)


class ServiceCreateMixin:
    """POST: validate with `create_serializer_class`, write with `perform_service_create`,
    answer with the read serializer."""

    create_serializer_class: Any

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self._body(self.create_serializer_class)  # type: ignore[attr-defined]
        instance = self.perform_service_create(data)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)  # type: ignore[attr-defined]

    def perform_service_create(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError


class ServiceUpdateMixin:
    """PUT/PATCH: 404 when not visible, 403 before 400 for the wrong role, then the service."""

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()  # type: ignore[attr-defined]
        self.check_can_write(instance)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)  # type: ignore[attr-defined]
        serializer.is_valid(raise_exception=True)
        instance = self.perform_service_update(instance, dict(serializer.validated_data))
        return Response(self.get_serializer(instance).data)  # type: ignore[attr-defined]

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def check_can_write(self, instance: Any) -> None:
        raise NotImplementedError

    def perform_service_update(self, instance: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError
