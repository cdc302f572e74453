"""Operator console pages for users, workspaces, memberships and API keys.

Actions call the same services as the API. Those check the caller's role in the object's
workspace; ``operator_acting_in`` lets the signed-in operator act there for one request.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from linkflow.core.errors import LinkflowError

from .api_keys import api_key_revoke
from .caller import Caller
from .http import AuthenticatedHttpRequest
from .models import ApiKey, Membership, User, Workspace
from .services import workspace_ensure_personal


def operator_acting_in(request: AuthenticatedHttpRequest, workspace_id: object) -> Caller:
    """A caller for the signed-in operator with the owner role in ``workspace_id`` alone.

    Services read the caller's role from the memberships, and an operator is usually no
    member, so this caller is told "owner" there. The grant lives on the returned caller
    only: nothing is stored, the operator's user object is untouched, other workspaces
    are checked as usual, and audit entries name the operator. Only admin actions call
    this, which Django admin gives to staff alone.
    """
    return Caller.person(request.user).acting_as_owner_in(workspace_id)


def act_on_each(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    objects: Iterable[Any],
    act: Callable[[Any], Any],
    *,
    verb: str,
) -> None:
    """Run ``act`` on each object, then tell the operator how many were ``verb`` and why
    the others were not (a service's refusal, e.g. an execution that already finished)."""
    done, refused = 0, []
    for obj in objects:
        try:
            act(obj)
            done += 1
        except LinkflowError as error:
            refused.append(f"{obj}: {error.message}")
    modeladmin.message_user(request, f"{done} {verb}.", messages.SUCCESS if done else messages.INFO)
    if refused:
        shown = "; ".join(refused[:5]) + (" …" if len(refused) > 5 else "")
        modeladmin.message_user(request, f"{len(refused)} skipped: {shown}", messages.WARNING)


class MembershipInline(admin.TabularInline[Membership, Workspace]):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at",)


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    ordering = ("email",)
    list_display = ("email", "name", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "name")
    readonly_fields = ("id", "date_joined", "last_login")
    date_hierarchy = "date_joined"
    fieldsets = (
        (None, {"fields": ("id", "email", "password", "name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            workspace_ensure_personal(user=obj)


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin[Workspace]):
    list_display = ("name", "personal_owner", "member_count", "created_at")
    search_fields = ("name", "personal_owner__email", "=id")
    readonly_fields = ("id", "created_at", "updated_at")
    autocomplete_fields = ("personal_owner",)
    list_select_related = ("personal_owner",)
    date_hierarchy = "created_at"
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, workspace: Workspace) -> int:
        return int(workspace.member_count)  # type: ignore[attr-defined]  # get_queryset's


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "workspace__name", "=workspace__id")
    readonly_fields = ("id", "created_at", "updated_at")
    autocomplete_fields = ("user", "workspace")
    list_select_related = ("user", "workspace")
    date_hierarchy = "created_at"


class _KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> tuple[tuple[str, str], ...]:
        return (("live", "Live"), ("revoked", "Revoked"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """Read-only but for revoking. The secret is shown once to its creator and only its
    hash is stored; the hash is not shown here either (``secret_hash`` is left out)."""

    list_display = (
        "name",
        "prefix",
        "workspace",
        "created_by",
        "scope_list",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = (_KeyStateFilter, "created_at")
    search_fields = ("name", "=prefix", "workspace__name", "created_by__email")
    list_select_related = ("workspace", "created_by")
    date_hierarchy = "created_at"
    fields = (
        "id",
        "name",
        "prefix",
        "workspace",
        "created_by",
        "scopes",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ["revoke_keys"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are made by their users, who alone see the secret once

    @admin.display(description="Scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes or [])

    @admin.action(description="Revoke the selected keys (they stop working at once)")
    def revoke_keys(self, request: AuthenticatedHttpRequest, queryset: QuerySet[ApiKey]) -> None:
        def revoke(key: ApiKey) -> None:
            api_key_revoke(user=operator_acting_in(request, key.workspace_id), key=key)

        act_on_each(self, request, queryset.filter(revoked_at__isnull=True), revoke, verb="revoked")
