"""Writes on credentials, and the resolver through which executions read them."""

import base64
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from linkflow.accounts.caller import Actor, user_of
from linkflow.accounts.models import Role, Workspace
from linkflow.accounts.selectors import require_role
from linkflow.audit.models import AuditEvent
from linkflow.audit.services import audit_record
from linkflow.core.errors import ErrorCode, LinkflowError

from . import redaction
from .crypto import decrypt, encrypt
from .models import Credential, CredentialType
from .types import OAUTH2_TOKEN_FIELDS, fields_check, secret_values

ACTION_USE = "credential.use"


@transaction.atomic
def credential_create(
    *,
    workspace: Workspace,
    name: str,
    type: str,
    data: dict[str, Any],
    user: Actor | None = None,
) -> Credential:
    """Store a credential with its fields checked against the type's schema and encrypted.

    With ``user`` (an API caller) it takes an admin or owner of the workspace: NotFound
    for an outsider, PermissionDenied below admin; without, it is the system acting.
    Raises a 400 ``validation_error`` naming the bad field (``type``, ``name``, ``data``).
    """
    if user is not None:
        require_role(user=user, workspace_id=workspace.pk, at_least=Role.ADMIN)
    fields = fields_check(type=type, data=data)
    credential = Credential(
        workspace=workspace, name=name, type=type, secret=encrypt(fields), created_by=user_of(user)
    )
    _save_unique(credential)
    _audit(user, credential, "credential.create", changed=sorted(fields))
    return credential


@transaction.atomic
def credential_update(
    *,
    user: Actor,
    credential: Credential,
    name: str | None = None,
    data: dict[str, Any] | None = None,
    replace: bool = False,
) -> Credential:
    """Rename the credential and/or change its fields; admins and owners only.

    ``data`` is merged into the stored fields (a null value removes one) unless
    ``replace``, which makes it the whole set. The result is checked like on create (400
    naming the field). OAuth2 tokens are kept unless the client id or URLs change.
    """
    require_role(user=user, workspace_id=credential.workspace_id, at_least=Role.ADMIN)
    credential = Credential.objects.select_for_update().get(pk=credential.pk)
    stored = decrypt(credential.secret)
    changed: list[str] = []
    if data is not None:
        fields, tokens = _split_tokens(credential.type, stored)
        merged = dict(data) if replace else {**fields, **data}
        new_fields = fields_check(type=credential.type, data=merged)
        changed = sorted(k for k in {*fields, *new_fields} if fields.get(k) != new_fields.get(k))
        if _reconnect_needed(changed):
            tokens = {}
        credential.secret = encrypt({**new_fields, **tokens})
    if name is not None:
        credential.name = name
    _save_unique(credential, update_fields=["name", "secret", "updated_at"])
    _audit(user, credential, "credential.update", changed=changed, renamed=name is not None)
    return credential


@transaction.atomic
def credential_delete(*, user: Actor, credential: Credential) -> None:
    """Delete the credential; admins and owners only. Nodes naming it fail from then on."""
    require_role(user=user, workspace_id=credential.workspace_id, at_least=Role.ADMIN)
    _audit(user, credential, "credential.delete")
    credential.delete()


def credential_fields(*, credential: Credential) -> dict[str, Any]:
    """The decrypted fields of ``credential`` (OAuth2 tokens included). Never for output."""
    return decrypt(credential.secret)


def _save_unique(credential: Credential, update_fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            credential.save(update_fields=update_fields)
    except IntegrityError:
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={"name": ["A credential with this name exists in the workspace."]},
        ) from None


def _split_tokens(type: str, stored: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    oauth2 = type == CredentialType.OAUTH2_CLIENT
    token_names = {f.name for f in OAUTH2_TOKEN_FIELDS} if oauth2 else set()
    fields = {k: v for k, v in stored.items() if k not in token_names}
    tokens = {k: v for k, v in stored.items() if k in token_names}
    return fields, tokens


def _reconnect_needed(changed: list[str]) -> bool:
    # Tokens were issued to that client by that server: they do not carry over.
    return bool({"client_id", "authorize_url", "token_url"} & set(changed))


def _audit(user: Actor | None, credential: Credential, action: str, **data: Any) -> None:
    audit_record(
        action=action,
        workspace_id=credential.workspace_id,
        actor=user_of(user),
        target=credential,
        data={"name": credential.name, "type": credential.type, **data},
    )


class CredentialResolver:
    """Resolves a node's credential id to ``{"type": <type>, **fields}`` for one execution
    (or one webhook call), limited to one workspace.

    Each credential is read once per resolver, whatever the node count; an expired OAuth2
    access token is refreshed through the credential's token_url first. The resolver
    remembers every secret value it handed out (``used_secrets``), so they are redacted
    from the execution's records and from logs while it lives. With ``execution_id`` the
    first use of each credential is recorded in the audit log, once per execution.
    ``inherited`` are secrets handed down with the execution's input (a sub-workflow's
    caller's, see handoff.py): they are redacted like the resolver's own from the start.
    """

    def __init__(
        self,
        *,
        workspace_id: UUID | str,
        execution_id: str | None = None,
        inherited: frozenset[str] = frozenset(),
    ) -> None:
        self.workspace_id = workspace_id
        self.execution_id = execution_id
        self._resolved: dict[str, dict[str, Any]] = {}
        self._secrets: set[str] = set(inherited)
        self._snapshot = frozenset(self._secrets)
        if inherited:
            redaction.track(self, execution_id=self.execution_id)

    def __call__(self, credential_id: str) -> dict[str, Any]:
        """The credential's type and fields; KeyError when it is not in the workspace.
        Raises linkflow.engine.NodeError when an OAuth2 token cannot be refreshed."""
        from .oauth2 import oauth2_fresh_fields

        resolved = self._resolved.get(credential_id)
        if resolved is None:
            row = self._load(credential_id)
            resolved = {"type": row.type, **decrypt(row.secret)}
            self._record_use(row)
        if resolved["type"] == CredentialType.OAUTH2_CLIENT:
            resolved = {
                "type": resolved["type"],
                **oauth2_fresh_fields(credential_id=credential_id, fields=resolved),
            }
        self._resolved[credential_id] = resolved
        self._remember(resolved)
        return dict(resolved)

    def used_secrets(self) -> frozenset[str]:
        """Every secret value this resolver handed out so far, and the inherited ones."""
        return self._snapshot

    def _load(self, credential_id: str) -> Credential:
        try:
            return Credential.objects.get(pk=credential_id, workspace_id=self.workspace_id)
        except (Credential.DoesNotExist, ValueError, ValidationError) as error:
            raise KeyError(credential_id) from error

    def _remember(self, resolved: dict[str, Any]) -> None:
        secrets = secret_values(type=resolved["type"], fields=resolved)
        if resolved["type"] == CredentialType.HTTP_BASIC:
            # What goes over the wire (and what an echoing server sends back).
            pair = f"{resolved.get('username', '')}:{resolved.get('password', '')}"
            secrets.append(base64.b64encode(pair.encode()).decode("ascii"))
        if secrets and not self._secrets.issuperset(secrets):
            self._secrets.update(secrets)
            # A new frozenset only when the set grows: redaction caches per set.
            self._snapshot = frozenset(self._secrets)
            redaction.track(self, execution_id=self.execution_id)

    def _record_use(self, row: Credential) -> None:
        if self.execution_id is None:
            return
        # A resumed execution gets a new resolver: the log still says "used" only once.
        seen = AuditEvent.objects.filter(
            action=ACTION_USE,
            target_type="credential",
            target_id=str(row.pk),
            data__execution_id=self.execution_id,
        ).exists()
        if not seen:
            audit_record(
                action=ACTION_USE,
                workspace_id=row.workspace_id,
                target=row,
                data={"name": row.name, "type": row.type, "execution_id": self.execution_id},
            )


def credential_resolver(
    *,
    workspace_id: UUID | str,
    execution_id: str | None = None,
    inherited: frozenset[str] = frozenset(),
) -> CredentialResolver:
    """A resolver for one execution (``execution_id``) or one webhook call; see
    CredentialResolver. Call it with a credential id."""
    return CredentialResolver(
        workspace_id=workspace_id, execution_id=execution_id, inherited=inherited
    )
