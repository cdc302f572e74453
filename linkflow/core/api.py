"""DRF plumbing shared by every app: the exception handler and pagination."""

import logging
import re
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .errors import ErrorCode, LinkflowError
from .errors import error_body as error_body  # re-exported: its historical home
from .json_body import too_large
from .outages import RETRY_AFTER_SECONDS, is_outage, outage_body

logger = logging.getLogger(__name__)

_DRF_CODES: dict[type[exceptions.APIException], ErrorCode] = {
    exceptions.ValidationError: ErrorCode.VALIDATION_ERROR,
    exceptions.ParseError: ErrorCode.MALFORMED_REQUEST,
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: ErrorCode.AUTHENTICATION_FAILED,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: ErrorCode.THROTTLED,
}


def validated(serializer: Any) -> dict[str, Any]:
    """The serializer's validated data as a plain dict; raises ValidationError (400)."""
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def validated_query(serializer_class: type[Any], request: Any) -> dict[str, Any]:
    """The request's query parameters checked by ``serializer_class``; raises 400.

    Read as a plain dict: from a QueryDict DRF takes ``?workflow=`` for an absent filter
    and an absent boolean for false, so a bad filter would be ignored instead of refused.
    """
    return validated(serializer_class(data=request.query_params.dict()))


def _drf_code(exc: exceptions.APIException) -> str:
    for cls in type(exc).__mro__:
        if cls in _DRF_CODES:
            return _DRF_CODES[cls]
    return str(exc.default_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Turn any exception raised in a view into the one error shape; never a bare 500."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):  # a body without a declared length, read by DRF
        exc = too_large()

    if isinstance(exc, LinkflowError):
        set_rollback()
        body = error_body(exc.code, exc.message, exc.details)
        return Response(body, status=exc.status_code, headers=exc.headers)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        # Set by NotAuthenticated (the scheme to use) and Throttled (the seconds to wait).
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait:
            headers["Retry-After"] = str(int(wait))
        if isinstance(exc, exceptions.ValidationError):
            message, details = "Some fields are invalid.", exc.detail
        else:
            message, details = str(exc.detail), None
        body = error_body(_drf_code(exc), message, details)
        return Response(body, status=exc.status_code, headers=headers)

    if is_outage(exc):  # PostgreSQL or Redis down: a 503 the client can retry, not a 500
        logger.warning("outage in %s: %r", context.get("view"), exc)
        set_rollback()
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return Response(outage_body(), status=503, headers=headers)

    logger.exception("unhandled error in %s", context.get("view"))
    set_rollback()
    return Response(
        error_body(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side."), status=500
    )


class CreatedCursorPagination(CursorPagination):
    """Newest first; stable under inserts, unlike page numbers.

    A ``page_size`` that is not a whole number from 1 to ``max_page_size`` is a 400 naming
    it (DRF would silently use the default), as the schema's minimum and maximum say.
    """

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if re.fullmatch(r"[0-9]{1,4}", raw) is None or not 1 <= int(raw) <= self.max_page_size:
            message = f"Use a whole number from 1 to {self.max_page_size}."
            raise exceptions.ValidationError({self.page_size_query_param: [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters
