"""Reads on credentials, always from the point of view of one user."""

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from linkflow.accounts.caller import Actor
from linkflow.accounts.selectors import workspace_ids_for
from linkflow.core.errors import NotFound
from workflows.current_graph import workflow_graph
from workflows.models import Workflow
from workflows.selectors import workflow_list

from .models import Credential


def credential_list(*, user: Actor) -> QuerySet[Credential]:
    """The credentials of every workspace the user belongs to (any role may list them)."""
    return Credential.objects.filter(workspace_id__in=workspace_ids_for(user=user))


def credential_types_by_id(*, workspace_id: UUID | str, ids: set[UUID]) -> dict[UUID, str]:
    """The type of each of ``ids`` that is a credential of the workspace (others absent).
    What workflows/references.py checks a graph's credentials with."""
    rows = Credential.objects.filter(workspace_id=workspace_id, pk__in=ids)
    return dict(rows.values_list("pk", "type"))


def credential_get(*, user: Actor, id: UUID | str) -> Credential:
    """One credential of the user's workspaces; NotFound (also for another workspace's)."""
    try:
        return credential_list(user=user).get(pk=id)
    except (Credential.DoesNotExist, ValueError, ValidationError):
        raise NotFound("Credential not found.") from None


def credential_usage(*, user: Actor, workspace_id: UUID | str) -> dict[str, list[Workflow]]:
    """The workflows of the workspace whose current version names each credential in a
    node's ``credential``, by credential id (ids no workflow uses are absent).

    Read from the graphs, not from a table: it is what the next execution will resolve.
    """
    used: dict[str, list[Workflow]] = {}
    workflows = workflow_list(user=user).filter(workspace_id=workspace_id).order_by("name")
    for workflow in workflows:
        nodes = workflow_graph(workflow).nodes
        named = {str(node.credential) for node in nodes if node.credential}
        for credential_id in named:
            used.setdefault(credential_id, []).append(workflow)
    return used
