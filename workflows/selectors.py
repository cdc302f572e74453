"""Reads on workflows, always scoped to the caller's workspaces."""

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet

from linkflow.accounts.caller import Actor, as_caller
from linkflow.accounts.selectors import remember_role, workspace_ids_for
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
    caller = as_caller(user)
    # One join to the caller's own membership both admits the row (an outsider has none;
    # there is at most one per user and workspace) and carries the role: half the CPU of
    # building the membership IN-subquery plus a role subquery, for the same answer.
    workflows = Workflow.objects.select_related("current_version").filter(
        workspace__memberships__user=caller.user
    )
    if caller.confined_to is not None:  # an API key: its own workspace only
        workflows = workflows.filter(workspace_id=caller.confined_to)
    try:
        workflow = workflows.annotate(caller_role=F("workspace__memberships__role")).get(pk=id)
    except (Workflow.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Workflow not found.") from None
    remember_role(user=user, workspace_id=workflow.workspace_id, role=workflow.caller_role)
    return workflow


def workflows_active_count(*, workspace_id: object) -> int:
    """The workspace's active workflows (billing's meter: no caller, the whole workspace)."""
    if not isinstance(workspace_id, UUID | str):  # e.g. None: no workspace, no workflows
        return 0
    return Workflow.objects.filter(workspace_id=workspace_id, active=True).count()
