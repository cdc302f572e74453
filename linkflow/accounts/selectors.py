"""Reads on workspaces, always from the point of view of one caller.

Every function takes ``user``: the request's ``Caller`` (see ``caller.py``: its API-key
confinement and role cache travel with it), or a bare ``User`` acting with its full
membership.
"""

from typing import TypedDict
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet

from linkflow.audit.models import AuditEvent
from linkflow.core.errors import NotFound, PermissionDenied

from .caller import Actor, Caller, as_caller
from .models import WRITER_ROLES, Membership, Role, Workspace, workspace_ensure_personal


class WorkspaceIdRow(TypedDict):
    workspace_id: UUID


def workspace_ids_for(*, user: Actor) -> QuerySet[Membership, WorkspaceIdRow]:
    """The ids of the workspaces the caller belongs to, as a subquery.

    A caller confined to one workspace (an API key) gets that one alone, and only while
    its user still belongs to it.
    """
    caller = as_caller(user)
    memberships = Membership.objects.filter(user=caller.user)
    if caller.confined_to is not None:
        memberships = memberships.filter(workspace_id=caller.confined_to)
    return memberships.values("workspace_id")


def remember_role(*, user: Actor, workspace_id: UUID | str, role: str | None) -> None:
    """Record a role read elsewhere (e.g. annotated on a query) for this caller's later
    checks; a bare user has no cache to keep it in."""
    if isinstance(user, Caller):
        user.roles.remember(workspace_id=workspace_id, role=role)


def role_in(*, user: Actor, workspace_id: UUID | str) -> str | None:
    """The caller's role in the workspace, or None for an outsider (and for any workspace
    outside an API key's own)."""
    caller = as_caller(user)
    if not caller.may_enter(workspace_id):
        return None
    if caller.roles.knows(workspace_id):
        return caller.roles.role(workspace_id)
    role = (
        Membership.objects.filter(user=caller.user, workspace_id=workspace_id)
        .values_list("role", flat=True)
        .first()
    )
    caller.roles.remember(workspace_id=workspace_id, role=role)
    return role


def require_writer(*, user: Actor, workspace_id: UUID | str) -> None:
    """Raise NotFound for an outsider and PermissionDenied for a read-only member."""
    role = role_in(user=user, workspace_id=workspace_id)
    if role is None:
        raise NotFound("Workspace not found.")
    if role not in WRITER_ROLES:
        raise PermissionDenied("Viewers cannot change or run workflows.")


def workspace_default_for(*, user: Actor) -> Workspace:
    """Where work goes when the caller names no workspace: the personal one, else the oldest.

    A signed-in user who belongs to no workspace at all gets a personal one made now, so no
    caller is ever told it has nowhere to work (the one write in this module).
    """
    caller = as_caller(user)
    if caller.confined_to is not None:
        return Workspace.objects.get(pk=caller.confined_to)
    personal = Workspace.objects.filter(personal_owner=caller.user).first()
    if personal is not None:
        return personal
    workspace = caller.user.workspaces.order_by("created_at").first()
    if workspace is None:
        workspace = workspace_ensure_personal(user=caller.user)
        caller.roles.remember(workspace_id=workspace.pk, role=Role.OWNER)
    return workspace


# How much each role may do; a role may do everything a lower one may.
ROLE_RANK: dict[Role, int] = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


def require_role(*, user: Actor, workspace_id: UUID | str, at_least: Role) -> Role:
    """The user's role in the workspace, when it is ``at_least`` or higher.

    Raises NotFound (404) for an outsider, so a foreign workspace looks like a missing one,
    and PermissionDenied (403) for a member with a lower role. The one place roles are
    compared: viewer reads; editor writes and runs workflows; admin also manages
    credentials, keys and members; owner also billing and deletion.
    """
    role = role_in(user=user, workspace_id=workspace_id)
    if role is None:
        raise NotFound("Workspace not found.")
    if ROLE_RANK[Role(role)] < ROLE_RANK[at_least]:
        raise PermissionDenied(f"This needs the {at_least.label.lower()} role or higher.")
    return Role(role)


def workspace_list(*, user: Actor) -> QuerySet[Workspace]:
    """The user's workspaces, each annotated with ``role``: the user's role there."""
    caller = as_caller(user)
    workspaces = Workspace.objects.filter(memberships__user=caller.user)
    if caller.confined_to is not None:
        workspaces = workspaces.filter(pk=caller.confined_to)
    return workspaces.annotate(role=F("memberships__role"))


def workspace_get(*, user: Actor, id: UUID | str | None) -> Workspace:
    """One of the user's workspaces (annotated with ``role``); NotFound otherwise."""
    try:
        if id is None:
            raise Workspace.DoesNotExist
        workspace = workspace_list(user=user).get(pk=id)
    except (Workspace.DoesNotExist, ValueError, ValidationError):
        raise NotFound("Workspace not found.") from None
    remember_role(user=user, workspace_id=workspace.pk, role=workspace.role)  # type: ignore[attr-defined]
    return workspace


def member_list(*, user: Actor, workspace_id: UUID | str) -> QuerySet[Membership]:
    """The memberships of a workspace the user belongs to (any role); NotFound otherwise."""
    require_role(user=user, workspace_id=workspace_id, at_least=Role.VIEWER)
    return (
        Membership.objects.filter(workspace_id=workspace_id)
        .select_related("user")
        .order_by("user__email")
    )


def workspace_target(*, user: Actor, workspace_id: UUID | str | None = None) -> Workspace:
    """The workspace a request names, or the caller's default when it names none.

    Only existence is checked here (the service checks the role); an unknown id raises
    the same NotFound as a foreign one.
    """
    if workspace_id is None:
        return workspace_default_for(user=user)
    workspace = Workspace.objects.filter(id=workspace_id).first()
    if workspace is None:
        raise NotFound("Workspace not found.")
    return workspace


def audit_list(*, user: Actor, workspace_id: UUID | str, action: str = "") -> QuerySet[AuditEvent]:
    """The workspace's audit events, newest first; only for its admins and owners.

    NotFound for an outsider, PermissionDenied for an editor or a viewer.
    """
    require_role(user=user, workspace_id=workspace_id, at_least=Role.ADMIN)
    events = AuditEvent.objects.filter(workspace_id=workspace_id).select_related("actor")
    return events.filter(action=action) if action else events
