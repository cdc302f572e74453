"""What an anonymous webhook caller is told when its call fails.

The caller is anyone holding the URL, so a refusal or a failed sync run tells it nothing
internal: no execution or node id, no internal URL, no error text of a node, no reason an
authentication failed ("the credential is missing" describes the workflow's setup, not the
call). Refusals about the call itself (wrong method, body too large or malformed, rate
limit, not listening) say what to fix and pass unchanged; every other failure keeps its
code and HTTP status but answers a generic message and a reference id.

The reference is logged once at WARNING by the web process with the workflow, trigger,
execution and full details (``webhook failure ref=<reference> ...``): an operator looks it
up in the web log, and the execution (its error and NodeRuns) holds the rest. A workflow
whose setting ``webhook_error_details`` is on (off by default) answers the details too,
for debugging an integration.
"""

import functools
import logging
import secrets
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from linkflow.core.errors import ErrorCode, LinkflowError

from .error_codes import WebhookErrorCode, WorkflowErrorCode
from .models import WebhookTrigger

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Refusals about the call itself: their message and details help the caller fix it.
_ABOUT_THE_CALL = frozenset(
    {
        ErrorCode.MALFORMED_REQUEST,
        ErrorCode.METHOD_NOT_ALLOWED,
        ErrorCode.NOT_FOUND,
        ErrorCode.THROTTLED,
        WorkflowErrorCode.NOT_LISTENING,
        WorkflowErrorCode.TEST_RUN_LIMIT,
        ErrorCode.PAYLOAD_TOO_LARGE,
        WebhookErrorCode.WORKFLOW_INACTIVE,
    }
)
_PUBLIC_MESSAGES: dict[str, str] = {
    WebhookErrorCode.EXECUTION_FAILED: "The workflow execution failed.",
    WebhookErrorCode.EXECUTION_TIMEOUT: (
        "The execution did not finish in time; it goes on in the background."
    ),
    WebhookErrorCode.AUTH_FAILED: "Webhook authentication failed.",
}
_DEFAULT_MESSAGE = "The webhook could not be answered."


def webhook_failure_public(*, error: LinkflowError, trigger: WebhookTrigger) -> LinkflowError:
    """``error`` as the anonymous caller may see it (see the module docstring); a failure
    not about the call is logged with its reference id. Never raises."""
    if error.code in _ABOUT_THE_CALL:
        return error
    reference = secrets.token_hex(8)
    logger.warning(
        "webhook failure ref=%s code=%s status=%s workflow=%s trigger=%s node=%s details=%s",
        *(reference, error.code, error.status_code, trigger.workflow_id, trigger.pk),
        *(trigger.node_id, error.details),
    )
    if trigger.workflow.webhook_error_details:
        details = {**(error.details or {}), "reference": reference}
        return _replaced(error, message=error.message, details=details)
    message = _PUBLIC_MESSAGES.get(error.code, _DEFAULT_MESSAGE)
    return _replaced(error, message=message, details={"reference": reference})


def _replaced(error: LinkflowError, *, message: str, details: dict[str, Any]) -> LinkflowError:
    # Retry-After of a 429 or a 402 stays: it describes the answer, not the workflow.
    return LinkflowError(
        error.code,
        message,
        details=details,
        status_code=error.status_code,
        headers=error.headers,
    )


def public_failures(handle: Callable[P, R]) -> Callable[P, R]:
    """Make the failures of a webhook call handler (``trigger`` passed by keyword) public."""

    @functools.wraps(handle)
    def handled(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handle(*args, **kwargs)
        except LinkflowError as error:
            trigger = kwargs["trigger"]
            assert isinstance(trigger, WebhookTrigger)
            raise webhook_failure_public(error=error, trigger=trigger) from None

    return handled
