"""Webhook trigger rows: one WebhookTrigger per `trigger.webhook` node of the current graph.

Written by ``webhook_triggers_sync`` in the transaction that saves a version; a call to a
row's URL is answered by webhook_calls.py.
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from linkflow.core.errors import LinkflowError
from linkflow.engine import Node

from .current_graph import workflow_graph
from .error_codes import WebhookErrorCode
from .models import WebhookAuth, WebhookMode, WebhookTrigger, Workflow, webhook_token_new
from .webhook_lookup import trigger_cache_forget

WEBHOOK_NODE_TYPE = "trigger.webhook"
_SYNCED_FIELDS = (
    "path",
    "method",
    "mode",
    "auth",
    "credential_id",
    "timeout_seconds",
    "disabled",
)


def webhook_triggers_sync(*, workflow: Workflow) -> None:
    """Make the workflow's WebhookTrigger rows match the webhook nodes of its current graph.

    Call it inside the transaction that set ``workflow.current_version`` (the graph is
    already validated). Rows of removed nodes are deleted, new nodes get a fresh token and
    kept node ids keep theirs. Raises ``webhook_path_taken`` (409, details node_id and path)
    when a readable path is already used in the workspace, by another workflow or another
    node of this graph; the caller's transaction then stores nothing.
    """
    wanted = _webhook_nodes(workflow)
    _paths_check(workflow=workflow, wanted=wanted)
    try:
        with transaction.atomic():  # a savepoint, so a lost race leaves the outer one usable
            _rows_write(workflow=workflow, wanted=wanted)
        trigger_cache_forget()  # bulk writes send no signal
    except IntegrityError:
        # Another save took the path between our check and our write: say which one.
        _paths_check(workflow=workflow, wanted=wanted)
        raise


def webhook_token_rotate(*, trigger: WebhookTrigger) -> WebhookTrigger:
    """Give the trigger a new token (a leaked URL); the old URL stops answering at once."""
    trigger.token = webhook_token_new()
    trigger.save(update_fields=["token", "updated_at"])
    return trigger


def _webhook_nodes(workflow: Workflow) -> dict[str, dict[str, Any]]:
    # Disabled nodes keep their row (marked, answering 404), so enabling one again
    # restores the URL its callers were given: the token is not made anew.
    nodes = workflow_graph(workflow).nodes_of_type(WEBHOOK_NODE_TYPE, include_disabled=True)
    return {node.id: _node_settings(node) for node in nodes}


def _node_settings(node: Node) -> dict[str, Any]:
    """The row's fields for one node, with the node type's defaults filled in."""
    params = node.params
    return {
        "path": path_normalized(params.get("path") or ""),
        "method": str(params.get("method", "POST")).upper(),
        "mode": params.get("mode", WebhookMode.ASYNC),
        "auth": params.get("auth", WebhookAuth.NONE),
        "credential_id": node.credential or "",
        "timeout_seconds": float(params.get("timeout_seconds", 30)),
        "disabled": node.disabled,
    }


def path_normalized(path: str) -> str:
    """A readable path as stored and looked up: "orders/" and "orders" are one address."""
    return path.strip("/")


def _paths_check(*, workflow: Workflow, wanted: dict[str, dict[str, Any]]) -> None:
    owners: dict[str, str] = {}
    for node_id, settings in wanted.items():
        path = settings["path"]
        if path and path in owners:
            raise _path_taken(node_id=node_id, path=path)
        if path:
            owners[path] = node_id
    if not owners:
        return
    taken = (
        WebhookTrigger.objects.filter(workspace_id=workflow.workspace_id, path__in=owners)
        .exclude(workflow=workflow)
        .values_list("path", flat=True)
        .first()
    )
    if taken is not None:
        raise _path_taken(node_id=owners[taken], path=taken)


def _path_taken(*, node_id: str, path: str) -> LinkflowError:
    return LinkflowError(
        WebhookErrorCode.PATH_TAKEN,
        f"The webhook path '{path}' is already used in this workspace.",
        details={"node_id": node_id, "path": path},
        status_code=409,
    )


def _rows_write(*, workflow: Workflow, wanted: dict[str, dict[str, Any]]) -> None:
    existing = {row.node_id: row for row in WebhookTrigger.objects.filter(workflow=workflow)}
    gone = [row.pk for node_id, row in existing.items() if node_id not in wanted]
    if gone:
        WebhookTrigger.objects.filter(pk__in=gone).delete()
    _rows_update([(existing[n], s) for n, s in wanted.items() if n in existing])
    WebhookTrigger.objects.bulk_create(
        WebhookTrigger(workspace_id=workflow.workspace_id, workflow=workflow, node_id=n, **s)
        for n, s in wanted.items()
        if n not in existing
    )


def _rows_update(pairs: list[tuple[WebhookTrigger, dict[str, Any]]]) -> None:
    changed = [row for row, s in pairs if any(getattr(row, k) != v for k, v in s.items())]
    moved = [row.pk for row, s in pairs if row.path != s["path"]]
    if moved:
        # Free the old paths first, so two nodes may swap paths without tripping the
        # (non-deferrable) unique constraint halfway through the update.
        WebhookTrigger.objects.filter(pk__in=moved).update(path="")
    now = timezone.now()
    for row, settings in pairs:
        if row in changed:
            for name, value in settings.items():
                setattr(row, name, value)
            row.updated_at = now  # bulk_update skips auto_now
    WebhookTrigger.objects.bulk_update(changed, [*_SYNCED_FIELDS, "updated_at"])
