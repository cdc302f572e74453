"""Error codes of webhook saving and calling."""

from enum import StrEnum


class WebhookErrorCode(StrEnum):
    """Error codes of webhook saving and calling (stable, like linkflow.core.errors)."""

    PATH_TAKEN = "webhook_path_taken"
    AUTH_FAILED = "webhook_auth_failed"
    WORKFLOW_INACTIVE = "workflow_inactive"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    EXECUTION_FAILED = "execution_failed"
    EXECUTION_TIMEOUT = "execution_timeout"
