"""GET /api/v1/search/?q=: the header search for API clients, with the same visibility."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import ApiAutoSchema, errors
from search import forms, selectors
from search.api.serializers import SearchSerializer


@extend_schema(tags=["search"])
class SearchView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    schema = ApiAutoSchema()

    @extend_schema(
        summary="Search accounts, contacts, deals, promises, problems and timeline text",
        description="Only what you may see, archived and merged accounts and contacts left out. Phone numbers "
        "match in any notation; on PostgreSQL partial words and typos in names match too. With `kind`, more of "
        "that kind alone.",
        parameters=[
            OpenApiParameter("q", str, required=True, description="2 to 200 characters."),
            OpenApiParameter("kind", str, enum=selectors.KIND_KEYS, description="One kind only, up to 50 results."),
        ],
        responses={200: SearchSerializer, **errors(400)},
    )
    def get(self, request: Request) -> Response:
        form, query, kind = forms.read(request.query_params)
        if not query:
            raise ValidationError(form.errors_by_field())
        per_kind = selectors.MORE_PER_KIND if kind else selectors.PER_KIND
        found = selectors.search(user=request.user, query=query, kind=kind, per_kind=per_kind)
        data = {"query": found.query, "count_cap": selectors.COUNT_CAP, "groups": found.groups}
        return Response(SearchSerializer(data).data)
