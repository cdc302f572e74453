"""OpenAPI plumbing shared by every app (drf-spectacular).

The one error shape is the component ``Error``. ``AutoSchema`` adds the error responses an
operation can give to every operation, so no view has to list them by hand; the few that
depend on the business (402 for plan limits) are declared where they apply with
``PLAN_LIMITED``. The authentication schemes are described beside their classes
(``linkflow/accounts/schema.py``).
"""

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import build_basic_type, build_parameter_type, get_view_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .fields import StrictCharField

_WRITES = frozenset({"POST", "PUT", "PATCH"})
# DRF's CharField refuses NUL characters (PostgreSQL cannot store them) and, by default,
# text that is only whitespace once trimmed: the schema says so, so that what it calls
# valid is what the API accepts. Python's and ECMA's `\s` agree on every common space.
# Where blank is allowed drf-spectacular adds the empty string as a `oneOf` alternative,
# so the pattern itself must not match it.
_NO_NUL = "^[^\\u0000]+$"
_NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
_PLAIN_TEXT_FIELDS = (serializers.CharField, StrictCharField)
# build_basic_type gives None only for OpenApiTypes.NONE.
_UUID_SCHEMA: dict[str, Any] = build_basic_type(OpenApiTypes.UUID) or {}


class ErrorBodySerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField(
        help_text="A stable, machine-readable code such as `validation_error`; never renamed."
    )
    message = serializers.CharField(help_text="One sentence for a human.")
    details = serializers.JSONField(
        allow_null=True,
        help_text="More about the error, or null. For `validation_error`: each field name "
        "mapped to its problems.",
    )


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    """The one error shape of the whole API."""

    error = ErrorBodySerializer()


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input; `details` names each offending field or parameter.",
    401: "Missing, invalid or expired credentials.",
    402: "A plan limit is reached; `code` says which.",
    403: "Authenticated, but the caller's role does not allow this.",
    404: "Not found, or in a workspace the caller is not a member of.",
    409: "Conflicts with the object's current state (for example an execution that already "
    "finished).",
    429: "Too many requests; retry after the number of seconds in `Retry-After`.",
}


def error_response(status: int) -> OpenApiResponse:
    """The documented error response for an HTTP status."""
    return OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])


# Operations that may hit a plan limit (`extend_schema(responses={..., **PLAN_LIMITED})`).
PLAN_LIMITED: dict[int, OpenApiResponse] = {402: error_response(402)}

_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before retrying.",
    }
}


class AutoSchema(SpectacularAutoSchema):
    """Documents, on every operation, the error responses it can give in the one shape.

    The ``no-untyped-call`` ignores below are calls of methods drf-spectacular leaves
    unannotated (untyped_calls_exclude in pyproject.toml does not reach inherited ones).
    """

    def _get_response_bodies(
        self, direction: Literal["request", "response"] = "response"
    ) -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    error_response(status), str(status), direction=direction
                )
        if "429" in responses:
            responses["429"].setdefault("headers", {}).update(_RETRY_AFTER)
        return responses

    def _get_serializer_field_meta(self, field: Any, direction: str | None) -> dict[str, Any]:
        meta: dict[str, Any] = super()._get_serializer_field_meta(field, direction)  # type: ignore[no-untyped-call]
        # Inbound text only (query parameters come with direction None); subclasses with a
        # format or pattern of their own (e-mail, URL, regex, slug) already exclude NUL.
        if direction != "response" and type(field) in _PLAIN_TEXT_FIELDS:
            blank_refused = not field.allow_blank and field.trim_whitespace
            meta["pattern"] = _NOT_BLANK if blank_refused else _NO_NUL
        return meta

    def _error_statuses(self) -> list[int]:
        statuses = [401, 429]
        if self.method in _WRITES or self._has_query_parameters():
            statuses.append(400)
        if not self._is_authenticated():
            # The token endpoints: bad input, wrong credentials, too many failures.
            return sorted(statuses)
        statuses.append(403)
        # A path parameter or a body names an object; a paginated list can get a stale cursor.
        if self._has_path_parameters() or self.method in _WRITES or self._is_paginated_list():
            statuses.append(404)
        if self.method in _WRITES:
            statuses.append(409)
        return sorted(statuses)

    def _is_authenticated(self) -> bool:
        auths = self.get_auth()
        return bool(auths) and {} not in auths

    def _has_path_parameters(self) -> bool:
        return "{" in self.path

    def _has_query_parameters(self) -> bool:
        return any(parameter["in"] == "query" for parameter in self._get_parameters())

    def _is_paginated_list(self) -> bool:
        return self._is_list_view() and self._get_paginator() is not None  # type: ignore[no-untyped-call]

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        # Viewsets find their rows through selectors that need a real caller, so the model
        # cannot be read off get_queryset() here; every LinkFlow model has a UUID id.
        lookup = {"id", "pk", getattr(self.view, "lookup_url_kwarg", None)}
        if get_view_model(self.view, emit_warnings=False) is not None:
            from_model: list[dict[str, Any]] = super()._resolve_path_parameters(variables)  # type: ignore[no-untyped-call]
            return from_model
        resolved = {
            parameter["name"]: parameter
            for parameter in super()._resolve_path_parameters(  # type: ignore[no-untyped-call]
                [variable for variable in variables if variable not in lookup]
            )
        }
        for variable in variables:
            if variable in lookup:
                resolved[variable] = build_parameter_type(
                    name=variable,
                    location=OpenApiParameter.PATH,
                    schema=_UUID_SCHEMA,
                )
        return [resolved[variable] for variable in variables]
