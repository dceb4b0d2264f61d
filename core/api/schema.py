"""How the API documents itself: every operation lists the error answers it can give, so
schema-driven clients (and schemathesis) know a 404 or a 409 is part of the contract."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_view_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from core.api.serializers import DetailSerializer

ERRORS: dict[int, OpenApiResponse] = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad input: messages keyed by field name."),
    401: OpenApiResponse(DetailSerializer, description="Not authenticated (missing or revoked token)."),
    403: OpenApiResponse(DetailSerializer, description="Your role does not allow this."),
    404: OpenApiResponse(DetailSerializer, description="Not found, or not visible to you."),
    409: OpenApiResponse(DetailSerializer, description="Not possible in the object's current state."),
    429: OpenApiResponse(DetailSerializer, description="Too many attempts: locked out or throttled."),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


class ApiAutoSchema(AutoSchema):
    """Adds the errors every authenticated operation can answer to what @extend_schema declares."""

    def _error_codes(self) -> set[int]:
        if getattr(self.view, "public_endpoint", False):
            return set()
        codes = {401, 403}
        if self.method in ("POST", "PUT", "PATCH"):
            codes.add(400)
        if "{" in self.path:
            codes.add(404)
        if self.method == "GET" and self._is_list_view():
            codes |= {400, 404}  # a bad filter value; a page past the end
        return codes

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        # Views accept any path segment (so junk answers the API's JSON 404), but an id is a number.
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["name"] == "id":
                parameter["schema"] = {"type": "integer"}
                model = get_view_model(self.view)
                name = model._meta.verbose_name if model is not None else "object"
                parameter["description"] = f"The id of the {name}."
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in sorted(self._error_codes()):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(ERRORS[code], str(code), direction=direction)
        return responses
