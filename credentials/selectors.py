"""Reads on credentials, always from the point of view of one user."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from linkflow.accounts.models import User
from linkflow.accounts.selectors import workspace_ids_for
from linkflow.core.errors import NotFound

from .models import Credential


def credential_list(*, user: User) -> QuerySet[Credential]:
    """The credentials of every workspace the user belongs to (any role may list them)."""
    return Credential.objects.filter(workspace_id__in=workspace_ids_for(user=user))


def credential_get(*, user: User, id: object) -> Credential:
    """One credential of the user's workspaces; NotFound (also for another workspace's)."""
    try:
        return credential_list(user=user).get(pk=id)
    except (Credential.DoesNotExist, ValueError, ValidationError):
        raise NotFound("Credential not found.") from None
