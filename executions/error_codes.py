"""Error codes of the executions app: stable strings clients may branch on (never
renamed), beside the generic ones of ``linkflow.core.errors.ErrorCode``."""

from enum import StrEnum


class ExecutionErrorCode(StrEnum):
    EXECUTION_FINISHED = "execution_finished"
    # The same Idempotency-Key with another request body (executions/starting/idempotency.py).
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    # A resume link whose wait already resumed, timed out or never waited (waits.py).
    WAIT_NOT_WAITING = "wait_not_waiting"
