"""trigger.poll: one poll fetches, then starts an execution per item not seen before.

The fetch goes through the workers' guarded HTTP client (the address policy of every
outbound connection). What is new is decided and recorded in one transaction that holds
the node's PollState row lock: the seen keys are inserted, the executions admitted (and
dispatched on commit) together, so a crash or a concurrent poll of the same node can
neither start an item twice nor mark one seen without starting it. A poll the plan refuses
rolls back whole: nothing is marked seen, and the next poll tries again.
"""

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from executions.models import Execution, ExecutionMode
from executions.running.host import http_client
from executions.starting.creation import Admission, NewExecution, execution_admit
from linkflow.core.errors import LinkflowError
from linkflow.engine import NodeError
from linkflow.engine.nodes.trigger_poll import DEFAULT_ITEMS_PER_POLL, poll_items, poll_key
from workflows.models import PollSeenKey, PollState, Workflow
from workflows.refusals import workflow_refusal_record

logger = logging.getLogger(__name__)

POLL_NODE_TYPE = "trigger.poll"


def poll_fire(
    *, workflow: Workflow, node_id: str, params: dict[str, Any], slot: datetime
) -> list[Execution]:
    """Poll the node's source once and start an execution (mode "schedule", the item as
    its trigger input) for each item whose key is new, at most ``max_items``; return them.

    The first poll of a node only remembers the keys unless ``first_poll`` is "emit".
    Keys seen again count as recently seen; past LINKFLOW_POLL_SEEN_LIMIT keys the least
    recently seen are forgotten. A fetch that fails, a body that is not what the source
    says or a key expression that fails is logged and recorded nowhere: the next poll
    tries again. Returns [] when the plan refuses (recorded on the workflow).
    """
    try:
        keyed = _keyed_items(params=params, body=_fetch(params))
    except (NodeError, OSError) as error:  # the fetch, the body or a key expression
        logger.warning("poll %s/%s failed: %s", workflow.pk, node_id, error)
        return []
    try:
        with transaction.atomic():
            return _record_and_start(workflow=workflow, node_id=node_id, params=params, keyed=keyed)
    except LinkflowError as refused:
        workflow_refusal_record(workflow=workflow, node_id=node_id, slot=slot, refused=refused)
        return []


def _fetch(params: dict[str, Any]) -> bytes:
    import httpx

    limit = settings.LINKFLOW_POLL_MAX_BYTES
    headers = params.get("headers") or {}
    try:
        with http_client().stream("GET", params["url"], headers=headers, timeout=30) as response:
            if response.status_code >= 400:
                raise NodeError(f"The source answered HTTP {response.status_code}.")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise NodeError(f"The response is larger than {limit} bytes.")
            return body
    except httpx.HTTPError as error:
        raise NodeError(f"The source could not be read: {error}") from None


def _keyed_items(*, params: dict[str, Any], body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(key hash, item) per item with a key, first occurrence only, in source order."""
    keyed: dict[str, dict[str, Any]] = {}
    key = params.get("key", "id")
    for item in poll_items(params=params, body=body):
        hashed = poll_key(item=item, key=key)
        if hashed is not None and hashed not in keyed:
            keyed[hashed] = item
    return list(keyed.items())


def _record_and_start(
    *,
    workflow: Workflow,
    node_id: str,
    params: dict[str, Any],
    keyed: list[tuple[str, dict[str, Any]]],
) -> list[Execution]:
    PollState.objects.get_or_create(workflow=workflow, node_id=node_id)
    state = PollState.objects.select_for_update().get(workflow=workflow, node_id=node_id)
    now = timezone.now()
    mine = PollSeenKey.objects.filter(workflow=workflow, node_id=node_id)
    seen = set(mine.filter(key_hash__in=[h for h, _ in keyed]).values_list("key_hash", flat=True))
    new = [(h, item) for h, item in keyed if h not in seen][
        : params.get("max_items", DEFAULT_ITEMS_PER_POLL)
    ]
    mine.filter(key_hash__in=seen).update(last_seen_at=now)
    PollSeenKey.objects.bulk_create(
        [
            PollSeenKey(workflow=workflow, node_id=node_id, key_hash=h, last_seen_at=now)
            for h, _ in new
        ]
    )
    emit = state.polls > 0 or params.get("first_poll", "remember") == "emit"
    started = (
        [_start(workflow=workflow, node_id=node_id, item=item) for _, item in new] if emit else []
    )
    _forget_beyond_limit(workflow=workflow, node_id=node_id)
    PollState.objects.filter(pk=state.pk).update(polls=state.polls + 1, last_polled_at=now)
    return started


def _start(*, workflow: Workflow, node_id: str, item: dict[str, Any]) -> Execution:
    new = NewExecution(
        workspace_id=workflow.workspace_id,
        workflow_id=workflow.pk,
        version_id=workflow.current_version_id,
        mode=ExecutionMode.SCHEDULE,
        trigger_input=item,
        trigger_node_id=node_id,
    )
    return execution_admit(new=new, admission=Admission.EXTERNAL)


def _forget_beyond_limit(*, workflow: Workflow, node_id: str) -> None:
    mine = PollSeenKey.objects.filter(workflow=workflow, node_id=node_id)
    kept = mine.order_by("-last_seen_at", "-created_at")[: settings.LINKFLOW_POLL_SEEN_LIMIT]
    mine.exclude(pk__in=kept.values("pk")).delete()
