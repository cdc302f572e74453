"""Writes on users, workspaces and memberships."""

from django.db import transaction

from .models import Membership, Role, User, Workspace


@transaction.atomic
def user_create(
    *, email: str, password: str | None, name: str = "", is_staff: bool = False
) -> User:
    """Create a user together with a personal workspace the user owns.

    Raises ``django.db.IntegrityError`` when the email is taken.
    """
    user = User.objects.create_user(
        email, password, name=name, is_staff=is_staff, is_superuser=is_staff
    )
    workspace_ensure_personal(user=user)
    return user


@transaction.atomic
def workspace_ensure_personal(*, user: User) -> Workspace:
    """Return the user's personal workspace, creating it (with the user as owner) if absent."""
    workspace = Workspace.objects.filter(personal_owner=user).first()
    if workspace is None:
        label = user.name or user.email.split("@")[0]
        workspace = Workspace.objects.create(name=f"{label}'s workspace", personal_owner=user)
        Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
    return workspace


@transaction.atomic
def membership_add(*, workspace: Workspace, user: User, role: Role = Role.EDITOR) -> Membership:
    """Give ``user`` ``role`` in ``workspace``; an existing membership gets the new role."""
    membership, _ = Membership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    return membership
