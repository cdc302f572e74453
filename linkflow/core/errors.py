"""LinkFlow's one error type. Services raise it; the API turns it into the one error shape:
``{"error": {"code": ..., "message": ..., "details": ...}}``.
"""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable codes that clients may branch on. Never rename one; add new ones."""

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
    WORKFLOW_GRAPH_INVALID = "workflow_graph_invalid"
    WORKFLOW_HAS_NO_VERSION = "workflow_has_no_version"
    EXECUTION_FINISHED = "execution_finished"
    API_KEY_CONFINED = "api_key_confined"
    # The editor's build-test loop (executions/test_runs.py, workflows/listening.py).
    TEST_RUN_LIMIT = "test_run_limit"
    NOT_LISTENING = "not_listening"
    # The same Idempotency-Key with another request body (executions/idempotency.py).
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"


class LinkflowError(Exception):
    """A failure meant for the caller: a stable code, a sentence, optional details."""

    status_code = 400

    def __init__(
        self,
        code: ErrorCode | str,
        message: str,
        *,
        details: Any = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = str(code)
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
