"""Reads on workspaces, always from the point of view of one user."""

from django.db.models import OuterRef, QuerySet, Subquery

from linkflow.core.errors import NotFound, PermissionDenied

from .models import WRITER_ROLES, Membership, User, Workspace


def workspace_ids_for(*, user: User) -> QuerySet[Membership]:
    """The ids of the workspaces the user belongs to, as a subquery."""
    return Membership.objects.filter(user=user).values("workspace_id")


# Roles looked up for a user object are kept on it: one request (or task) holds its own
# user object, so a role read while loading a workflow answers the permission check too.
_ROLES_ATTR = "_linkflow_roles"


def remember_role(*, user: User, workspace_id: object, role: str | None) -> None:
    """Record a role read elsewhere (e.g. annotated on a query) for later checks."""
    user.__dict__.setdefault(_ROLES_ATTR, {})[str(workspace_id)] = role


def role_in(*, user: User, workspace_id: object) -> str | None:
    """The user's role in the workspace, or None for an outsider."""
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
    """Where work goes when the caller names no workspace: the personal one, else the oldest."""
    personal = Workspace.objects.filter(personal_owner=user).first()
    if personal is not None:
        return personal
    workspace = user.workspaces.order_by("created_at").first()
    if workspace is None:
        raise NotFound("You belong to no workspace.")
    return workspace
