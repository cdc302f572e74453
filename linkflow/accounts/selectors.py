"""Reads on workspaces, always from the point of view of one user."""

from django.core.exceptions import ValidationError
from django.db.models import F, OuterRef, QuerySet, Subquery

from linkflow.audit.models import AuditEvent
from linkflow.core.errors import NotFound, PermissionDenied

from .models import WRITER_ROLES, Membership, Role, User, Workspace, workspace_ensure_personal


def workspace_ids_for(*, user: User) -> QuerySet[Membership]:
    """The ids of the workspaces the user belongs to, as a subquery.

    A user object confined to one workspace (see ``confine_to_workspace``) gets that one
    alone, and only while the user still belongs to it.
    """
    memberships = Membership.objects.filter(user=user)
    confined = confined_workspace(user=user)
    if confined is not None:
        memberships = memberships.filter(workspace_id=confined)
    return memberships.values("workspace_id")


# An API key acts for its creator, but only inside the key's workspace. The limit travels on
# the request's user object (one per request, like the roles below), so every selector and
# permission check built on workspace_ids_for / role_in / workspace_default_for /
# workspace_list honours it without knowing that API keys exist.
_CONFINED_ATTR = "_linkflow_confined_to"


def confine_to_workspace(*, user: User, workspace_id: object) -> None:
    """From now on this user object sees and acts in ``workspace_id`` only."""
    user.__dict__[_CONFINED_ATTR] = str(workspace_id)


def confined_workspace(*, user: User) -> str | None:
    """The one workspace this user object is confined to, or None when it is not."""
    return user.__dict__.get(_CONFINED_ATTR)


# Roles looked up for a user object are kept on it: one request (or task) holds its own
# user object, so a role read while loading a workflow answers the permission check too.
_ROLES_ATTR = "_linkflow_roles"


def remember_role(*, user: User, workspace_id: object, role: str | None) -> None:
    """Record a role read elsewhere (e.g. annotated on a query) for later checks."""
    user.__dict__.setdefault(_ROLES_ATTR, {})[str(workspace_id)] = role


def role_in(*, user: User, workspace_id: object) -> str | None:
    """The user's role in the workspace, or None for an outsider."""
    confined = confined_workspace(user=user)
    if confined is not None and str(workspace_id) != confined:
        return None
    known: dict[str, str | None] = user.__dict__.get(_ROLES_ATTR, {})
    if str(workspace_id) in known:
        return known[str(workspace_id)]
    role = (
        Membership.objects.filter(user=user, workspace_id=workspace_id)
        .values_list("role", flat=True)
        .first()
    )
    remember_role(user=user, workspace_id=workspace_id, role=role)
    return role


def caller_role(*, user: User) -> Subquery:
    """A subquery for annotating rows with a ``workspace_id`` with the user's role there."""
    return Subquery(
        Membership.objects.filter(user=user, workspace_id=OuterRef("workspace_id")).values("role")[
            :1
        ]
    )


def require_writer(*, user: User, workspace_id: object) -> None:
    """Raise NotFound for an outsider and PermissionDenied for a read-only member."""
    role = role_in(user=user, workspace_id=workspace_id)
    if role is None:
        raise NotFound("Workspace not found.")
    if role not in WRITER_ROLES:
        raise PermissionDenied("Viewers cannot change or run workflows.")


def workspace_default_for(*, user: User) -> Workspace:
    """Where work goes when the caller names no workspace: the personal one, else the oldest.

    A signed-in user who belongs to no workspace at all gets a personal one made now, so no
    caller is ever told it has nowhere to work (the one write in this module).
    """
    confined = confined_workspace(user=user)
    if confined is not None:
        return Workspace.objects.get(pk=confined)
    personal = Workspace.objects.filter(personal_owner=user).first()
    if personal is not None:
        return personal
    workspace = user.workspaces.order_by("created_at").first()
    if workspace is None:
        workspace = workspace_ensure_personal(user=user)
        remember_role(user=user, workspace_id=workspace.pk, role=Role.OWNER)
    return workspace


# How much each role may do; a role may do everything a lower one may.
ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


def require_role(*, user: User, workspace_id: object, at_least: Role) -> Role:
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


def workspace_list(*, user: User) -> QuerySet[Workspace]:
    """The user's workspaces, each annotated with ``role``: the user's role there."""
    workspaces = Workspace.objects.filter(memberships__user=user)
    confined = confined_workspace(user=user)
    if confined is not None:
        workspaces = workspaces.filter(pk=confined)
    return workspaces.annotate(role=F("memberships__role"))


def workspace_get(*, user: User, id: object) -> Workspace:
    """One of the user's workspaces (annotated with ``role``); NotFound otherwise."""
    try:
        workspace = workspace_list(user=user).get(pk=id)
    except (Workspace.DoesNotExist, ValueError, ValidationError):
        raise NotFound("Workspace not found.") from None
    remember_role(user=user, workspace_id=workspace.pk, role=workspace.role)  # type: ignore[attr-defined]
    return workspace


def member_list(*, user: User, workspace_id: object) -> QuerySet[Membership]:
    """The memberships of a workspace the user belongs to (any role); NotFound otherwise."""
    require_role(user=user, workspace_id=workspace_id, at_least=Role.VIEWER)
    return (
        Membership.objects.filter(workspace_id=workspace_id)
        .select_related("user")
        .order_by("user__email")
    )


def workspace_target(*, user: User, workspace_id: object = None) -> Workspace:
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


def audit_list(*, user: User, workspace_id: object, action: str = "") -> QuerySet[AuditEvent]:
    """The workspace's audit events, newest first; only for its admins and owners.

    NotFound for an outsider, PermissionDenied for an editor or a viewer.
    """
    require_role(user=user, workspace_id=workspace_id, at_least=Role.ADMIN)
    events = AuditEvent.objects.filter(workspace_id=workspace_id).select_related("actor")
    return events.filter(action=action) if action else events
