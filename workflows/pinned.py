"""Pinned data: output items a node gives in test runs instead of running (n8n's pins).

Kept per workflow and node beside the versions (pinning is not a new version), size-
limited (LINKFLOW_PINNED_MAX_BYTES) and redacted like a stored output: the secret values
of the workspace's credentials never get into a pin, whether typed in or copied from a
NodeRun. Only test runs read pins (executions/sources/test_runs.py); production executions never
do, since nothing on their path imports this module.
"""

import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from rest_framework.exceptions import ValidationError

from credentials.models import Credential
from credentials.redaction import redact
from credentials.services import credential_fields
from linkflow.accounts.caller import Actor, user_of
from linkflow.accounts.selectors import require_writer
from linkflow.core.errors import ErrorCode, LinkflowError, NotFound
from linkflow.core.validators import storable_json

from .models import PinnedData, Workflow

DEFAULT_PORT = "main"


def pinned_list(*, workflow: Workflow) -> list[PinnedData]:
    """The workflow's pins, by node id. The caller has read ``workflow`` through a selector."""
    return list(workflow.pinned.order_by("node_id"))


def pinned_get(*, workflow: Workflow, node_id: str) -> PinnedData:
    """The node's pin, or NotFound (404)."""
    pin = workflow.pinned.filter(node_id=node_id).first()
    if pin is None:
        raise NotFound("This node has no pinned data.")
    return pin


def pinned_put(
    *, user: Actor, workflow: Workflow, node_id: str, items: Any, port: str = DEFAULT_PORT
) -> PinnedData:
    """Pin ``items`` (a list of JSON objects) as the node's ``port`` output, replacing any
    earlier pin. The workspace's credential secrets in them are redacted first.

    Raises PermissionDenied (403) below the editor role and ``validation_error`` (400,
    naming ``items``) for items that are not objects, cannot be stored, or are larger
    than LINKFLOW_PINNED_MAX_BYTES; nothing changes then.
    """
    require_writer(user=user, workspace_id=workflow.workspace_id)
    clean = _checked(items, workspace_id=workflow.workspace_id)
    pin, _ = PinnedData.objects.update_or_create(
        workflow=workflow,
        node_id=node_id,
        defaults={"items": clean, "port": port or DEFAULT_PORT, "updated_by": user_of(user)},
    )
    return pin


def pinned_put_many(
    *, user: Actor, workflow: Workflow, outputs: dict[str, tuple[str, Any]]
) -> list[PinnedData]:
    """``pinned_put`` for each ``node_id -> (port, items)``, in one transaction: all or none."""
    with transaction.atomic():
        return [
            pinned_put(user=user, workflow=workflow, node_id=node_id, items=items, port=port)
            for node_id, (port, items) in sorted(outputs.items())
        ]


def pinned_delete(*, user: Actor, workflow: Workflow, node_id: str) -> None:
    """Unpin the node. Raises PermissionDenied (403), or NotFound (404) when nothing is pinned."""
    require_writer(user=user, workspace_id=workflow.workspace_id)
    deleted, _ = workflow.pinned.filter(node_id=node_id).delete()
    if not deleted:
        raise NotFound("This node has no pinned data.")


def first_output(output: Any) -> tuple[str, list[Any]]:
    """The port and items a recorded output (``{port: items}``) is pinned as: ``main`` when
    it has items, else the first port that has any (a flow.if's ``true``)."""
    if not isinstance(output, dict):
        return DEFAULT_PORT, []
    if output.get(DEFAULT_PORT):
        return DEFAULT_PORT, list(output[DEFAULT_PORT])
    for port, items in output.items():
        if isinstance(items, list) and items:
            return str(port), list(items)
    return DEFAULT_PORT, []


def _checked(items: Any, *, workspace_id: UUID | str) -> list[Any]:
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _invalid("A list of JSON objects.")
    try:
        storable_json(items)
    except ValidationError as error:
        # storable_json raises with one message, so the detail is a list of one.
        detail = error.detail
        raise _invalid(str(detail[0] if isinstance(detail, list) else detail)) from None
    clean: list[Any] = redact(items, _workspace_secrets(workspace_id))
    size = len(json.dumps(clean, separators=(",", ":"), ensure_ascii=False).encode())
    limit = settings.LINKFLOW_PINNED_MAX_BYTES
    if size > limit:
        raise _invalid(f"Pinned items may be at most {limit} bytes of JSON (these are {size}).")
    return clean


def _workspace_secrets(workspace_id: UUID | str) -> set[str]:
    secrets: set[str] = set()
    for credential in Credential.objects.filter(workspace_id=workspace_id):
        secrets.update(_strings(credential_fields(credential=credential).values()))
    return secrets


def _strings(values: Iterable[Any]) -> Iterable[str]:
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from _strings(value.values())
        elif isinstance(value, list):
            yield from _strings(value)


def _invalid(message: str) -> LinkflowError:
    return LinkflowError(
        ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", details={"items": [message]}
    )
