"""DRF plumbing shared by every app: the exception handler and pagination."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .errors import ErrorCode, LinkflowError
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


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error shape, used by the API and by the plain-Django error views."""
    return {"error": {"code": code, "message": message, "details": details}}


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

    if isinstance(exc, LinkflowError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
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
    """Newest first; stable under inserts, unlike page numbers."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
