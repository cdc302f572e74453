"""Stripe's rule for a repeated ``Idempotency-Key``: the same key with the same request
answers the first execution; the same key with a different request is refused.

"The same request" is the canonical JSON of the request's validated payload (keys sorted,
no spaces, UTF-8) hashed with SHA-256: key order and whitespace do not matter, values do
(``1`` and ``1.0`` differ, as JSON numbers of two kinds). The hash is stored with the
dedupe key (``Execution.dedupe_fingerprint``); an execution stored without one (older
rows, or a creation path without a request body: cron, sub-workflows) never refuses.
"""

import hashlib
import json
from typing import Any

from executions.error_codes import ExecutionErrorCode
from executions.models import Execution
from linkflow.core.errors import LinkflowError


def request_fingerprint(payload: Any) -> str:
    """The SHA-256 hex digest of ``payload``'s canonical JSON (see the module docstring)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def repeat_check(*, earlier: Execution, fingerprint: str) -> Execution:
    """``earlier`` when the repeated request matches the one that created it (or either
    has no fingerprint); else raises ``idempotency_key_reused`` (422), naming the header
    and the execution the key belongs to."""
    stored = earlier.dedupe_fingerprint
    if not stored or not fingerprint or stored == fingerprint:
        return earlier
    raise LinkflowError(
        ExecutionErrorCode.IDEMPOTENCY_KEY_REUSED,
        "This Idempotency-Key was already used with a different request body.",
        details={"header": "Idempotency-Key", "execution_id": str(earlier.pk)},
        status_code=422,
    )
