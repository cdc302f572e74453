"""The workspace page: its members and their roles, renaming it, and making new ones.

Everybody in the workspace sees who is in it; admins and owners manage it. The services
enforce the rules (an owner's role is given or taken only by an owner, a workspace keeps
an owner); their refusals are shown next to the form or row they concern.
"""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linkflow.accounts import services
from linkflow.accounts.forms import MemberAddForm, MemberRoleForm, WorkspaceNameForm
from linkflow.accounts.http import AuthenticatedHttpRequest, WorkspaceHttpRequest
from linkflow.accounts.models import Membership, Role, User
from linkflow.accounts.selectors import member_list
from linkflow.accounts.web import SESSION_KEY, page, show_error
from linkflow.core.errors import LinkflowError, NotFound


def _members_page(
    request: WorkspaceHttpRequest, *, status: int = 200, **context: Any
) -> HttpResponse:
    """The members page, with whichever bound forms or row errors the caller passes."""
    workspace = request.workspace
    is_owner = request.role == Role.OWNER
    # An admin may not give or take the owner role, so is not offered it.
    choices = [(value, label) for value, label in Role.choices if is_owner or value != Role.OWNER]
    context.setdefault("add_form", MemberAddForm())
    context["add_form"].fields["role"].choices = choices
    context.setdefault("rename_form", WorkspaceNameForm(initial={"name": workspace.name}))
    return render(
        request,
        "accounts/members.html",
        {
            "workspace": workspace,
            "members": member_list(user=request.caller, workspace_id=workspace.pk),
            "role_choices": choices,
            "is_owner": is_owner,
            "error_member": None,
            **context,
        },
        status=status,
    )


@require_GET
@page(at_least=Role.VIEWER)
def members(request: WorkspaceHttpRequest) -> HttpResponse:
    """Who is in the current workspace, with their roles (and, for admins, the controls)."""
    return _members_page(request)


def _submit_on_members_page(
    request: WorkspaceHttpRequest,
    form: Form,
    *,
    form_key: str,
    act: Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """Run ``act`` with a valid ``form``'s data and go back to the members page with the
    message it returns. Bad input, or the service's refusal on the field it names, shows
    the page again with ``form`` (passed as ``form_key``) and its errors."""
    if not form.is_valid():
        return _members_page(request, status=400, **{form_key: form})
    try:
        done = act(form.cleaned_data)
    except LinkflowError as error:
        show_error(form, error)
        return _members_page(request, status=error.status_code, **{form_key: form})
    messages.success(request, done)
    return redirect("accounts:members")


@require_POST
@page(at_least=Role.ADMIN)
def member_add(request: WorkspaceHttpRequest) -> HttpResponse:
    """Add an existing user by e-mail with a role."""

    def add(data: dict[str, Any]) -> str:
        services.member_add(
            user=request.caller,
            workspace=request.workspace,
            email=data["email"],
            role=Role(data["role"]),
        )
        return f"Added {data['email']}."

    return _submit_on_members_page(
        request, MemberAddForm(request.POST), form_key="add_form", act=add
    )


def _row_error(
    request: WorkspaceHttpRequest, membership: Membership, message: str, *, status: int
) -> HttpResponse:
    """The page again, with ``message`` next to the member's row it concerns."""
    return _members_page(request, error_member=membership.user_id, row_error=message, status=status)


def _member(request: WorkspaceHttpRequest, user_id: UUID) -> Membership:
    workspace = request.workspace
    membership = (
        member_list(user=request.caller, workspace_id=workspace.pk).filter(user_id=user_id).first()
    )
    if membership is None:
        raise NotFound("Member not found.")
    return membership


@require_POST
@page(at_least=Role.ADMIN)
def member_role(request: WorkspaceHttpRequest, user_id: UUID) -> HttpResponse:
    """Give a member another role."""
    membership = _member(request, user_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        return _row_error(request, membership, "Choose a role.", status=400)
    try:
        services.member_set_role(
            user=request.caller,
            workspace=request.workspace,
            member=membership.user,
            role=Role(form.cleaned_data["role"]),
        )
    except LinkflowError as error:
        return _row_error(request, membership, error.message, status=error.status_code)
    messages.success(request, f"{membership.user.email} is now {form.cleaned_data['role']}.")
    return redirect("accounts:members")


@require_POST
@page(at_least=Role.ADMIN)
def member_remove(request: WorkspaceHttpRequest, user_id: UUID) -> HttpResponse:
    """Take a member out of the workspace (asked to confirm first, on the page)."""
    membership = _member(request, user_id)
    member: User = membership.user
    try:
        services.member_remove(
            user=request.caller,
            workspace=request.workspace,
            member=member,
        )
    except LinkflowError as error:
        return _row_error(request, membership, error.message, status=error.status_code)
    if member.pk == request.user.pk:
        messages.success(request, f"You have left {request.workspace.name}.")
        request.session.pop(SESSION_KEY, None)
        return redirect("home")
    messages.success(request, f"Removed {member.email}.")
    return redirect("accounts:members")


@require_POST
@page(at_least=Role.ADMIN)
def workspace_rename(request: WorkspaceHttpRequest) -> HttpResponse:
    """Give the current workspace a new name."""

    def rename(data: dict[str, Any]) -> str:
        services.workspace_rename(
            user=request.caller,
            workspace=request.workspace,
            name=data["name"],
        )
        return "Workspace renamed."

    return _submit_on_members_page(
        request, WorkspaceNameForm(request.POST), form_key="rename_form", act=rename
    )


@require_http_methods(["GET", "POST"])
@login_required
def workspace_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Create a shared workspace, owned by its creator, and switch to it."""
    form = WorkspaceNameForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(
                user=request.user,
                name=form.cleaned_data["name"],
            )
        except LinkflowError as error:
            show_error(form, error)
        else:
            request.session[SESSION_KEY] = str(workspace.pk)
            messages.success(request, f"Created {workspace.name}. Now add your teammates.")
            return redirect("accounts:members")
    status = 400 if form.is_bound else 200
    return render(request, "accounts/workspace_new.html", {"form": form}, status=status)


@require_POST
@page(at_least=Role.OWNER)
def workspace_delete(request: WorkspaceHttpRequest) -> HttpResponse:
    """Delete the current (shared) workspace with everything in it; owners only, asked to
    confirm first. A personal workspace cannot be deleted (the service says why)."""
    workspace = request.workspace
    try:
        services.workspace_delete(user=request.caller, workspace=workspace)
    except LinkflowError as error:
        return _members_page(request, delete_error=error.message, status=error.status_code)
    request.session.pop(SESSION_KEY, None)
    messages.success(request, f"Deleted {workspace.name}.")
    return redirect("home")
