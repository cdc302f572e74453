"""Writing the audit log. Other apps call ``audit_record`` from their services."""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db.models import Model

from .context import current_ip
from .models import AuditEvent

if TYPE_CHECKING:  # the audit log sits below accounts, which writes to it
    from linkflow.accounts.models import User


def audit_record(
    *,
    action: str,
    workspace_id: UUID | str | None = None,
    actor: "User | None" = None,
    target: Model | None = None,
    target_type: str = "",
    target_id: object = "",
    data: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one event: ``action`` ("<entity>.<verb>") by ``actor`` in the workspace.

    ``target`` (a model instance) fills ``target_type`` (its model name) and
    ``target_id``; pass those two directly for an object that no longer exists. ``ip``
    defaults to the address of the request being served, if any. ``data`` must be JSON
    and must never hold a secret. Written in the caller's transaction, so a rolled-back
    change leaves no event behind.
    """
    if target is not None:
        target_type = target_type or target._meta.model_name or ""
        target_id = target_id or target.pk
    return AuditEvent.objects.create(
        action=action,
        workspace_id=workspace_id,
        actor=actor if actor is not None and actor.is_authenticated else None,
        target_type=target_type,
        target_id=str(target_id or ""),
        data=data or {},
        ip=ip or current_ip(),
    )
