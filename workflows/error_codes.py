"""Error codes of the workflows app: stable strings clients may branch on (never renamed),
beside the generic ones of ``linkflow.core.errors.ErrorCode``."""

from enum import StrEnum


class WorkflowErrorCode(StrEnum):
    WORKFLOW_GRAPH_INVALID = "workflow_graph_invalid"
    # Running needs a saved graph (executions raise it for the workflow they would run).
    WORKFLOW_HAS_NO_VERSION = "workflow_has_no_version"
    # The editor's build-test loop (workflows/listening.py, executions/sources/test_runs.py): a
    # test event while nobody listens, and too many test runs at once.
    NOT_LISTENING = "not_listening"
    TEST_RUN_LIMIT = "test_run_limit"


class WebhookErrorCode(StrEnum):
    """Saving and calling webhooks (workflows/webhook_*.py)."""

    PATH_TAKEN = "webhook_path_taken"
    AUTH_FAILED = "webhook_auth_failed"
    WORKFLOW_INACTIVE = "workflow_inactive"
    EXECUTION_FAILED = "execution_failed"
    EXECUTION_TIMEOUT = "execution_timeout"
