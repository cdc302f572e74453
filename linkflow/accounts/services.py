"""Writes on users, workspaces and memberships."""

import secrets
from dataclasses import dataclass
from typing import Any, Literal

from django.db import transaction

from linkflow.audit.services import audit_record
from linkflow.core.errors import ErrorCode, LinkflowError, NotFound

from .caller import Actor, as_caller, user_of
from .error_codes import AccountErrorCode
from .models import Membership, Role, User, Workspace
from .models import workspace_ensure_personal as workspace_ensure_personal  # re-exported
from .selectors import remember_role, require_role


@transaction.atomic
def user_create(
    *, email: str, password: str | None, name: str = "", is_staff: bool = False
) -> User:
    """Create a user together with a personal workspace the user owns (the manager's
    ``create_user`` makes it, so ``createsuperuser`` gets one too).

    Raises ``django.db.IntegrityError`` when the email is taken.
    """
    return User.objects.create_user(
        email, password, name=name, is_staff=is_staff, is_superuser=is_staff
    )


@dataclass(frozen=True)
class AdminEnsured:
    """What ``admin_ensure`` did: ``action`` is created, reset or kept; ``password`` is the
    generated one (to show once) when it made one, else None."""

    email: str
    action: Literal["created", "reset", "kept"]
    password: str | None


@transaction.atomic
def admin_ensure(*, email: str, password: str) -> AdminEnsured:
    """Make sure the operator account ``email`` exists, is staff and superuser.

    Missing: it is created with ``password``, or a generated one when that is empty (the
    caller shows it once: it is stored hashed). Existing: a non-empty ``password`` that it
    does not already have resets it (LINKFLOW_ADMIN_PASSWORD is the operator's way back
    in); an empty one leaves the account as it is.
    """
    email = email.lower()
    user = User.objects.select_for_update().filter(email=email).first()
    if user is None:
        generated = None if password else secrets.token_urlsafe(12)
        user_create(email=email, password=password or generated, is_staff=True)
        return AdminEnsured(email=email, action="created", password=generated)
    if password and not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
        return AdminEnsured(email=email, action="reset", password=None)
    return AdminEnsured(email=email, action="kept", password=None)


@transaction.atomic
def membership_add(*, workspace: Workspace, user: User, role: Role = Role.EDITOR) -> Membership:
    """Give ``user`` ``role`` in ``workspace``; an existing membership gets the new role."""
    membership, _ = Membership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    return membership


# --- Workspaces and members, as managed over the API -----------------------------------
# A workspace must always keep an owner: without one nobody could delete it or manage
# billing. Answered with 409 and AccountErrorCode.LAST_OWNER.


def _audit(*, actor: Actor, **kwargs: Any) -> None:
    audit_record(actor=user_of(actor), **kwargs)


@transaction.atomic
def workspace_create(*, user: Actor, name: str) -> Workspace:
    """A new shared workspace with ``user`` as its owner.

    Refused (403 ``api_key_confined``) for a caller confined to one workspace, i.e.
    acting through an API key: a key works inside its own workspace, and a new workspace
    would be one outside it.
    """
    if as_caller(user).confined_to is not None:
        raise LinkflowError(
            AccountErrorCode.API_KEY_CONFINED,
            "An API key acts inside its own workspace only; it cannot create workspaces.",
            status_code=403,
        )
    workspace = Workspace.objects.create(name=name)
    Membership.objects.create(user=user_of(user), workspace=workspace, role=Role.OWNER)
    _audit(action="workspace.create", workspace_id=workspace.pk, actor=user, target=workspace)
    return workspace


@transaction.atomic
def workspace_rename(*, user: Actor, workspace: Workspace, name: str) -> Workspace:
    """Rename the workspace; admins and owners only (PermissionDenied, NotFound)."""
    require_role(user=user, workspace_id=workspace.pk, at_least=Role.ADMIN)
    old = workspace.name
    workspace.name = name
    workspace.save(update_fields=["name", "updated_at"])
    _audit(
        action="workspace.rename",
        workspace_id=workspace.pk,
        actor=user,
        target=workspace,
        data={"from": old, "to": name},
    )
    return workspace


@transaction.atomic
def workspace_delete(*, user: Actor, workspace: Workspace) -> None:
    """Delete the workspace with everything in it; owners only.

    A personal workspace cannot be deleted (409 ``personal_workspace``): it is where the
    user's unassigned work goes, and it would only be made again at the next sign-up step.
    """
    require_role(user=user, workspace_id=workspace.pk, at_least=Role.OWNER)
    if workspace.personal_owner_id is not None:
        raise LinkflowError(
            AccountErrorCode.PERSONAL_WORKSPACE,
            "A personal workspace cannot be deleted.",
            status_code=409,
        )
    # Recorded outside the workspace: its own events go with it.
    _audit(
        action="workspace.delete",
        actor=user,
        target=workspace,
        data={"name": workspace.name},
    )
    workspace.delete()


@transaction.atomic
def member_add(*, user: Actor, workspace: Workspace, email: str, role: Role) -> Membership:
    """Add the existing user with ``email`` to the workspace with ``role``.

    Admins and owners may add members; only an owner may add another owner. Raises a
    400 ``validation_error`` naming ``email`` when no such user exists, and 409
    ``conflict`` when the user is already a member (use ``member_set_role``).
    """
    _require_manager(user=user, workspace=workspace, roles=(role,))
    member = User.objects.filter(email__iexact=email.strip()).first()
    if member is None:
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={"email": ["No user has this email address."]},
        )
    membership, created = Membership.objects.get_or_create(
        workspace=workspace, user=member, defaults={"role": role}
    )
    if not created:
        raise LinkflowError(ErrorCode.CONFLICT, "This user is already a member.", status_code=409)
    _audit(
        action="member.add",
        workspace_id=workspace.pk,
        actor=user,
        target=member,
        data={"email": member.email, "role": role},
    )
    return membership


@transaction.atomic
def member_set_role(*, user: Actor, workspace: Workspace, member: User, role: Role) -> Membership:
    """Give ``member`` the new ``role``.

    Admins and owners may change roles; making or unmaking an owner takes an owner.
    NotFound when ``member`` is not in the workspace; 409 ``last_owner`` when this would
    leave the workspace without an owner.
    """
    membership = _membership_locked(workspace=workspace, member=member)
    old = Role(membership.role)
    _require_manager(user=user, workspace=workspace, roles=(old, role))
    if old == Role.OWNER and role != Role.OWNER:
        _keep_an_owner(workspace=workspace)
    if old != role:
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        if member.pk == user_of(user).pk:
            # Callers who change their own role are checked with the new one from now on.
            remember_role(user=user, workspace_id=workspace.pk, role=role)
        _audit(
            action="member.role_change",
            workspace_id=workspace.pk,
            actor=user,
            target=member,
            data={"email": member.email, "from": old, "to": role},
        )
    return membership


@transaction.atomic
def member_remove(*, user: Actor, workspace: Workspace, member: User) -> None:
    """Remove ``member`` from the workspace.

    Admins and owners may remove members (an owner only by an owner); anybody may leave.
    NotFound when ``member`` is not in the workspace; 409 ``last_owner`` for the last owner.
    """
    membership = _membership_locked(workspace=workspace, member=member)
    if member.pk != user_of(user).pk:
        _require_manager(user=user, workspace=workspace, roles=(Role(membership.role),))
    if membership.role == Role.OWNER:
        _keep_an_owner(workspace=workspace)
    membership.delete()
    _audit(
        action="member.remove",
        workspace_id=workspace.pk,
        actor=user,
        target=member,
        data={"email": member.email, "role": membership.role},
    )


def _require_manager(*, user: Actor, workspace: Workspace, roles: tuple[Role, ...]) -> None:
    """Admins manage members; an owner's role is given or taken only by an owner."""
    at_least = Role.OWNER if Role.OWNER in roles else Role.ADMIN
    require_role(user=user, workspace_id=workspace.pk, at_least=at_least)


def _membership_locked(*, workspace: Workspace, member: User) -> Membership:
    membership = (
        Membership.objects.select_for_update().filter(workspace=workspace, user=member).first()
    )
    if membership is None:
        raise NotFound("Member not found.")
    return membership


def _keep_an_owner(*, workspace: Workspace) -> None:
    # The owners' rows are locked: two owners demoting each other at the same moment
    # must not both succeed and leave nobody.
    owners = list(
        Membership.objects.select_for_update()
        .filter(workspace=workspace, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    if len(owners) <= 1:
        raise LinkflowError(
            AccountErrorCode.LAST_OWNER,
            "A workspace needs an owner: make another member owner first.",
            status_code=409,
        )
