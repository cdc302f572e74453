"""Reads on workflows, always scoped to the caller's workspaces."""

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from linkflow.accounts.caller import Actor
from linkflow.accounts.selectors import caller_role, remember_role, workspace_ids_for
from linkflow.core.errors import NotFound

from .models import Workflow


def workflow_list(
    *, user: Actor, active: bool | None = None, search: str | None = None
) -> QuerySet[Workflow]:
    """Every workflow in a workspace the user belongs to, newest first, optionally only the
    (in)active ones and those whose name contains ``search`` in any case."""
    qs = Workflow.objects.filter(workspace_id__in=workspace_ids_for(user=user)).select_related(
        "current_version"
    )
    if active is not None:
        qs = qs.filter(active=active)
    if search:
        qs = qs.filter(name__icontains=search)
    return qs


def workflow_get(*, user: Actor, id: UUID | str) -> Workflow:
    """The workflow, or NotFound if it is missing or in another workspace.

    The caller's role in its workspace comes back in the same query and is remembered,
    so the permission check of a following write costs nothing more.
    """
    try:
        workflow = workflow_list(user=user).annotate(caller_role=caller_role(user=user)).get(pk=id)
    except (Workflow.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Workflow not found.") from None
    remember_role(user=user, workspace_id=workflow.workspace_id, role=workflow.caller_role)
    return workflow


def workflows_active_count(*, workspace_id: object) -> int:
    """The workspace's active workflows (billing's meter: no caller, the whole workspace)."""
    if not isinstance(workspace_id, UUID | str):  # e.g. None: no workspace, no workflows
        return 0
    return Workflow.objects.filter(workspace_id=workspace_id, active=True).count()
