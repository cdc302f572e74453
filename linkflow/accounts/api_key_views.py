"""The API keys page: mint a key with scopes (its secret shown once), list, revoke.

Admins and owners only, as the API's key endpoints are (``api_keys.api_key_create``
checks the role); the page's own check refuses lower roles before any work is done.
"""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from linkflow.accounts.api_keys import api_key_create, api_key_get, api_key_list, api_key_revoke
from linkflow.accounts.forms import ApiKeyForm
from linkflow.accounts.http import WorkspaceHttpRequest
from linkflow.accounts.models import Role
from linkflow.accounts.web import page, show_error
from linkflow.core.errors import LinkflowError


def _page(
    request: WorkspaceHttpRequest, *, form: ApiKeyForm, status: int = 200, **extra: object
) -> HttpResponse:
    workspace = request.workspace
    keys = api_key_list(user=request.caller, workspace_id=workspace.pk)
    context = {"form": form, "keys": keys, "workspace": workspace, "now": timezone.now()}
    context.update(extra)
    return render(request, "accounts/api_keys.html", context, status=status)


@require_http_methods(["GET", "POST"])
@page(at_least=Role.ADMIN)
def api_keys(request: WorkspaceHttpRequest) -> HttpResponse:
    """List the workspace's keys; a POST mints one and shows its secret in this answer
    only (it is stored hashed, so no later page can show it again)."""
    if request.method == "GET":
        return _page(request, form=ApiKeyForm())
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        key, raw_key = api_key_create(
            user=request.caller,
            workspace=request.workspace,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
        )
    except LinkflowError as error:
        show_error(form, error)
        return _page(request, form=form, status=error.status_code)
    response = _page(request, form=ApiKeyForm(), status=201, created=key, raw_key=raw_key)
    # The secret must not linger in any cache or the browser's back/forward store.
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@page(at_least=Role.ADMIN)
def api_key_revoke_view(request: WorkspaceHttpRequest, key_id: str) -> HttpResponse:
    """Revoke a key at once (asked to confirm first, on the page)."""
    workspace = request.workspace
    key = api_key_get(user=request.caller, workspace_id=workspace.pk, id=key_id)
    api_key_revoke(user=request.caller, key=key)
    messages.success(request, f"Revoked {key.name} ({key.prefix}…). It no longer works.")
    return redirect("accounts:api_keys")
