"""Refusals nobody was there to hear: a cron fire past the monthly quota.

An API or webhook caller gets the 402 itself. A cron fire has no caller, so the refusal is
kept on the workflow (``Workflow.last_refusal``, shown by the workflow API and the usage
API) instead of only in the log.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.utils import timezone

from linkflow.core.errors import LinkflowError

from .models import Workflow


def workflow_refusal_record(
    *, workflow: Workflow, node_id: str, slot: datetime, refused: LinkflowError
) -> dict[str, Any]:
    """Keep ``refused`` as the workflow's last refusal (replacing an older one) and return
    what was stored. Never raises for a workflow deleted meanwhile (nothing is written)."""
    refusal = {
        "at": timezone.now().isoformat(),
        "node_id": node_id,
        "slot": slot.isoformat(),
        "code": str(refused.code),
        "message": refused.message,
        "details": refused.details,
    }
    Workflow.objects.filter(pk=workflow.pk).update(last_refusal=refusal)
    workflow.last_refusal = refusal
    return refusal


def workflow_refusals_since(*, workspace_id: UUID | str, since: datetime) -> list[dict[str, Any]]:
    """The workspace's workflows whose last refusal is at or after ``since``, newest first:
    ``{"workflow", "name", **refusal}``."""
    rows = Workflow.objects.filter(workspace_id=workspace_id, last_refusal__isnull=False)
    found = [
        {"workflow": str(pk), "name": name, **refusal}
        for pk, name, refusal in rows.values_list("pk", "name", "last_refusal")
        if refusal is not None and datetime.fromisoformat(refusal["at"]) >= since
    ]
    return sorted(found, key=lambda refusal: refusal["at"], reverse=True)
