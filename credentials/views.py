"""Credential pages: the list with where each is used, create and edit per type (secrets
write-only), delete, and the OAuth2 connect round trip. Any member sees the list; only
admins and owners create, edit, delete and connect (the services check it too)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linkflow.accounts.http import WorkspaceHttpRequest
from linkflow.accounts.models import Role
from linkflow.accounts.web import page, show_error
from linkflow.core.errors import LinkflowError

from . import selectors, services
from .forms import CredentialForm
from .models import Credential, CredentialType
from .oauth2 import oauth2_callback, oauth2_connect_url
from .types import SCHEMAS


@require_GET
@page()
def credential_list_page(request: WorkspaceHttpRequest) -> HttpResponse:
    """The workspace's credentials: type, age, and the workflows that use each."""
    credentials = list(
        selectors.credential_list(user=request.caller)
        .filter(workspace_id=request.workspace.pk)
        .order_by("name")
    )
    usage = selectors.credential_usage(
        user=request.caller,
        workspace_id=request.workspace.pk,
    )
    for credential in credentials:
        credential.used_by = usage.get(str(credential.pk), [])  # type: ignore[attr-defined]
        credential.connected = _connected(credential)  # type: ignore[attr-defined]
    return render(request, "credentials/list.html", {"credentials": credentials})


@require_GET
@page(at_least=Role.ADMIN)
def credential_new(request: WorkspaceHttpRequest) -> HttpResponse:
    """Pick the type of the new credential."""
    types = [
        {"type": name, "label": CredentialType(name).label, "fields": schema.fields}
        for name, schema in SCHEMAS.items()
    ]
    return render(request, "credentials/new.html", {"types": types})


@require_http_methods(["GET", "POST"])
@page(at_least=Role.ADMIN)
def credential_create_page(request: WorkspaceHttpRequest, type: str) -> HttpResponse:
    """The form of one credential type; saving stores it encrypted."""
    if type not in SCHEMAS:
        raise Http404("No such credential type.")
    form = CredentialForm(request.POST if request.method == "POST" else None, type=type)
    if request.method == "POST" and form.is_valid():
        try:
            credential = services.credential_create(
                user=request.caller,
                workspace=request.workspace,
                name=form.cleaned_data["name"],
                type=type,
                data=form.data_for_service(),
            )
        except LinkflowError as error:
            _show(form, error)
        else:
            messages.success(request, f"Saved credential {credential.name}.")
            return redirect("credentials:edit", pk=credential.pk)
    status = 400 if form.errors else 200
    return render(request, "credentials/form.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@page(at_least=Role.ADMIN)
def credential_edit_page(request: WorkspaceHttpRequest, pk: str) -> HttpResponse:
    """Rename or change fields; a blank secret keeps the stored one."""
    credential = _get(request, pk)
    stored = services.credential_fields(credential=credential)
    form = CredentialForm(
        request.POST if request.method == "POST" else None,
        type=credential.type,
        stored=stored,
        initial={"name": credential.name},
    )
    if request.method == "POST" and form.is_valid():
        try:
            credential = services.credential_update(
                user=request.caller,
                credential=credential,
                name=form.cleaned_data["name"],
                data=form.data_for_service(),
            )
        except LinkflowError as error:
            _show(form, error)
        else:
            messages.success(request, f"Saved credential {credential.name}.")
            return redirect("credentials:edit", pk=credential.pk)
    usage = selectors.credential_usage(
        user=request.caller,
        workspace_id=credential.workspace_id,
    )
    context: dict[str, Any] = {
        "form": form,
        "credential": credential,
        "used_by": usage.get(str(credential.pk), []),
        "oauth2": credential.type == CredentialType.OAUTH2_CLIENT,
        "connected": bool(stored.get("access_token")),
    }
    status = 400 if form.errors else 200
    return render(request, "credentials/form.html", context, status=status)


@require_POST
@page(at_least=Role.ADMIN)
def credential_delete_page(request: WorkspaceHttpRequest, pk: str) -> HttpResponse:
    credential = _get(request, pk)
    name = credential.name
    services.credential_delete(user=request.caller, credential=credential)
    messages.success(request, f"Deleted credential {name}.")
    return redirect("credentials:list")


@require_POST
@page(at_least=Role.ADMIN)
def credential_connect(request: WorkspaceHttpRequest, pk: str) -> HttpResponse:
    """Start the OAuth2 round trip: off to the provider, back at ``oauth2_return``."""
    credential = _get(request, pk)
    redirect_uri = request.build_absolute_uri(reverse("credentials:oauth2_return"))
    try:
        url = oauth2_connect_url(
            user=request.caller,
            credential=credential,
            redirect_uri=redirect_uri,
        )
    except LinkflowError as error:
        messages.error(request, error.message)
        return redirect("credentials:edit", pk=credential.pk)
    return HttpResponseRedirect(url)


@require_GET
@login_required
def credential_oauth2_return(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the browser back: store the tokens, then show the
    credential with the outcome. The one-time ``state`` ties the call to its connect."""
    try:
        credential = oauth2_callback(
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            error=request.GET.get("error", ""),
        )
    except LinkflowError as error:
        messages.error(request, f"Could not connect: {error.message}")
        return redirect("credentials:list")
    messages.success(request, f"Connected {credential.name}: LinkFlow holds a fresh token.")
    return redirect("credentials:edit", pk=credential.pk)


def _get(request: WorkspaceHttpRequest, pk: str) -> Credential:
    """A credential of the current workspace (NotFound, shown as 404, for any other)."""
    credential = selectors.credential_get(user=request.caller, id=pk)
    if credential.workspace_id != request.workspace.pk:
        raise Http404("Credential not found.")
    return credential


def _show(form: CredentialForm, error: LinkflowError) -> None:
    if not form.service_errors(error.details):
        show_error(form, error)


def _connected(credential: Credential) -> bool | None:
    """For OAuth2 credentials whether they hold a token; None for the other types."""
    if credential.type != CredentialType.OAUTH2_CLIENT:
        return None
    return bool(services.credential_fields(credential=credential).get("access_token"))
