"""Reads on workflows, always scoped to the caller's workspaces."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from linkflow.accounts.models import User
from linkflow.accounts.selectors import workspace_ids_for
from linkflow.core.errors import NotFound

from .models import Workflow


def workflow_list(*, user: User) -> QuerySet[Workflow]:
    """Every workflow in a workspace the user belongs to, newest first."""
    return Workflow.objects.filter(workspace_id__in=workspace_ids_for(user=user)).select_related(
        "current_version"
    )


def workflow_get(*, user: User, id: object) -> Workflow:
    """The workflow, or NotFound if it is missing or in another workspace."""
    try:
        return workflow_list(user=user).get(pk=id)
    except (Workflow.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Workflow not found.") from None
