"""Writes on credentials and the resolver the engine uses to read them."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from linkflow.accounts.models import User, Workspace

from .crypto import decrypt, encrypt
from .models import Credential


def credential_create(
    *,
    workspace: Workspace,
    name: str,
    type: str,
    data: dict[str, Any],
    user: User | None = None,
) -> Credential:
    """Store a credential with its fields encrypted."""
    return Credential.objects.create(
        workspace=workspace, name=name, type=type, secret=encrypt(data), created_by=user
    )


def credential_resolver(*, workspace_id: object) -> Callable[[str], dict[str, Any]]:
    """A function id -> decrypted fields, limited to one workspace; KeyError otherwise.

    Each credential is read once per resolver (one execution), whatever the node count.
    """
    cache: dict[str, dict[str, Any]] = {}

    def resolve(credential_id: str) -> dict[str, Any]:
        if credential_id not in cache:
            try:
                row = Credential.objects.get(pk=credential_id, workspace_id=workspace_id)
            except (Credential.DoesNotExist, ValueError, ValidationError) as error:
                raise KeyError(credential_id) from error
            cache[credential_id] = decrypt(row.secret)
        return cache[credential_id]

    return resolve
