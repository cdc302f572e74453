"""Users sign in by email; every object belongs to a workspace; members have a role."""

import uuid
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models, transaction
from django.utils import timezone

from linkflow.core.models import BaseModel


class UserManager(BaseUserManager["User"]):
    """Creates users with their personal workspace, however they are made: the services,
    ``manage.py createsuperuser`` and any ``create_user`` call all come through here."""

    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        with transaction.atomic(using=self._db):
            user = self.model(email=self.normalize_email(email).lower(), **extra)
            user.set_password(password)
            user.save(using=self._db)
            workspace_ensure_personal(user=user)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ("email",)

    def __str__(self) -> str:
        return self.email


class Workspace(BaseModel):
    name = models.CharField(max_length=150)
    # Set on the workspace made for a user at sign-up; where unspecified work goes.
    personal_owner = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="personal_workspace"
    )
    members = models.ManyToManyField(User, through="Membership", related_name="workspaces")

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


# Roles that may change workflows and run them.
WRITER_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.EDITOR})


class Membership(BaseModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class ApiKey(BaseModel):
    """A secret an integrator's program sends instead of a password.

    It acts for ``created_by`` but only inside ``workspace`` and only within ``scopes``.
    The secret itself is never stored: ``secret_hash`` is its SHA-256 (the secret is random
    and long, so a slow hash would add nothing), and ``prefix`` finds the row and is what
    lists show. Logic lives in ``accounts.api_keys``.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=150)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


@transaction.atomic
def workspace_ensure_personal(*, user: User) -> Workspace:
    """Return the user's personal workspace, creating it (with the user as owner) if absent.

    Here, beside the manager, so that models and services import each other in one
    direction only (``linkflow.accounts.services`` re-exports it). The one place a personal
    workspace is made: user creation (the manager, the admin's add
    form) calls it, and so does ``workspace_default_for`` for a user left with none (made
    by a raw ``User.objects.create``, or whose workspaces were all left or deleted).
    """
    workspace = Workspace.objects.filter(personal_owner=user).first()
    if workspace is None:
        label = user.name or user.email.split("@")[0]
        workspace = Workspace.objects.create(name=f"{label}'s workspace", personal_owner=user)
        Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
    return workspace
