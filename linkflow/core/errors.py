"""LinkFlow's one error type. Services raise it; the API turns it into the one error shape:
``{"error": {"code": ..., "message": ..., "details": ...}}``.
"""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """The generic codes, of any endpoint: stable strings clients may branch on. Never
    rename one; add new ones. Each app owns the codes of its domain in its
    ``error_codes.py`` (``WorkflowErrorCode``, ``ExecutionErrorCode``, ...)."""

    VALIDATION_ERROR = "validation_error"
    MALFORMED_REQUEST = "malformed_request"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    THROTTLED = "throttled"
    CONFLICT = "conflict"
    INTERNAL_ERROR = "internal_error"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    SERVICE_UNAVAILABLE = "service_unavailable"


class LinkflowError(Exception):
    """A failure meant for the caller: a stable code, a sentence, optional details."""

    status_code = 400

    def __init__(
        self,
        code: StrEnum,
        message: str,
        *,
        details: Any = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        # The member itself: a str equal to its value wherever it is compared or rendered.
        self.code = code
        self.message = message
        self.details = details
        # Response headers the answer carries (Retry-After of a 429).
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code


class NotFound(LinkflowError):
    status_code = 404

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(ErrorCode.NOT_FOUND, message)


class PermissionDenied(LinkflowError):
    status_code = 403

    def __init__(self, message: str = "You may not do this in this workspace.") -> None:
        super().__init__(ErrorCode.PERMISSION_DENIED, message)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error shape, used by the API and by the plain-Django error views."""
    return {"error": {"code": code, "message": message, "details": details}}
