"""Pages of the workflow list and overview: create, activate, duplicate, delete, import,
export, and each webhook's URL with a ready curl command.

Views stay thin: selectors read, ``workflows.services`` writes (the same functions the API
calls), and a service's refusal is shown next to the form or control it concerns.
"""

import json
import re
import shlex
import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from credentials.models import Credential
from credentials.services import credential_fields
from executions.models import Execution
from linkflow.accounts.http import WorkspaceHttpRequest
from linkflow.accounts.models import WRITER_ROLES, Role
from linkflow.accounts.web import page, safe_next, show_error
from linkflow.core.errors import LinkflowError

from . import selectors, services
from .api.serializers import WebhookOutSerializer
from .forms import WorkflowCreateForm, WorkflowImportForm, WorkflowSearchForm
from .importers.n8n import looks_like_n8n
from .importers.service import workflows_import_n8n
from .models import WebhookAuth, Workflow
from .webhook_auth import DEFAULT_TOKEN_HEADER

PAGE_SIZE = 25
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")


def _last_run(field: str) -> Subquery:
    latest = Execution.objects.filter(workflow=OuterRef("pk")).order_by("-created_at")
    return Subquery(latest.values(field)[:1])


def _may_edit(workflow: Workflow) -> bool:
    return getattr(workflow, "caller_role", None) in WRITER_ROLES


@require_GET
@page()
def workflow_list(request: WorkspaceHttpRequest) -> HttpResponse:
    """The current workspace's workflows, newest first, with their last run."""
    form = WorkflowSearchForm(request.GET or None)
    search = form.cleaned_data["q"] if form.is_valid() else ""
    workflows = (
        selectors.workflow_list(user=request.caller, search=search or None)
        .filter(workspace=request.workspace)
        .annotate(last_status=_last_run("status"), last_run_at=_last_run("created_at"))
    )
    paginator = Paginator(workflows, PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "workflows/list.html",
        {"form": form, "search": search, "page_obj": page_obj, "workflows": page_obj.object_list},
    )


@require_http_methods(["GET", "POST"])
@page(at_least=Role.EDITOR)
def workflow_new(request: WorkspaceHttpRequest) -> HttpResponse:
    """Name a new workflow; it starts as a manual trigger and opens in the editor."""
    form = WorkflowCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workflow = services.workflow_create(
                user=request.caller,
                workspace=request.workspace,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                graph=services.starter_graph(),
            )
        except LinkflowError as error:
            show_error(form, error)
        else:
            return redirect("editor:edit", pk=workflow.pk)
    return render(request, "workflows/new.html", {"form": form}, status=_status(request, form))


@require_GET
@page()
def workflow_detail(request: WorkspaceHttpRequest, pk: uuid.UUID) -> HttpResponse:
    """One workflow's overview: state, version, links, and its webhook URLs."""
    workflow = selectors.workflow_get(user=request.caller, id=pk)
    last = Execution.objects.filter(workflow=workflow).order_by("-created_at").first()
    return render(
        request,
        "workflows/detail.html",
        {
            "workflow": workflow,
            "may_edit": _may_edit(workflow),
            "last_run": last,
            "webhooks": _webhooks(request, workflow),
            "executions_url": reverse("executions:list") + f"?workflow={workflow.pk}",
        },
    )


@require_POST
@page()
def workflow_toggle(request: WorkspaceHttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Activate or deactivate through ``workflow_update`` (plan limit, cron and webhooks).

    htmx swaps the returned control in place, with the service's refusal next to it.
    """
    workflow = selectors.workflow_get(user=request.caller, id=pk)
    wanted = request.POST.get("active") == "true"
    error = None
    try:
        workflow = services.workflow_update(
            user=request.caller,
            workflow=workflow,
            changes={"active": wanted},
        )
    except LinkflowError as exc:
        if exc.status_code in (403, 404):
            raise
        error = exc.message
    if request.htmx:
        context = {"workflow": workflow, "may_edit": True, "toggle_error": error}
        return render(request, "workflows/_toggle.html", context)
    if error:
        messages.error(request, error)
    else:
        state = "active" if workflow.active else "inactive"
        messages.success(request, f"{workflow.name} is now {state}.")
    return safe_next(request, "workflows:list")


@require_POST
@page()
def workflow_duplicate(request: WorkspaceHttpRequest, pk: uuid.UUID) -> HttpResponse:
    workflow = selectors.workflow_get(user=request.caller, id=pk)
    try:
        copy = services.workflow_duplicate(user=request.caller, workflow=workflow)
    except LinkflowError as exc:
        if exc.status_code in (403, 404):
            raise
        messages.error(request, exc.message)
        return safe_next(request, "workflows:list")
    messages.success(request, f"Made {copy.name}.")
    return redirect("workflows:detail", pk=copy.pk)


@require_POST
@page()
def workflow_delete(request: WorkspaceHttpRequest, pk: uuid.UUID) -> HttpResponse:
    workflow = selectors.workflow_get(user=request.caller, id=pk)
    services.workflow_delete(user=request.caller, workflow=workflow)
    messages.success(request, f"Deleted {workflow.name}.")
    return redirect("workflows:list")


@require_GET
@page()
def workflow_export(request: WorkspaceHttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The workflow as a JSON file download (the document ``workflow_import`` reads)."""
    workflow = selectors.workflow_get(user=request.caller, id=pk)
    document = services.workflow_export(workflow=workflow)
    response = JsonResponse(document, json_dumps_params={"indent": 2})
    filename = f"{slugify(workflow.name) or 'workflow'}.linkflow.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "POST"])
@page(at_least=Role.EDITOR)
def workflow_import(request: WorkspaceHttpRequest) -> HttpResponse:
    """Upload or paste an exported workflow; it becomes a new, inactive workflow."""
    form = WorkflowImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        document = form.cleaned_data["document"]
        try:
            if is_n8n_export(document):
                return _n8n_import(request, document)
            workflow = services.workflow_import(
                user=request.caller,
                workspace=request.workspace,
                document=document,
            )
        except LinkflowError as error:
            if error.status_code in (403, 404):
                raise
            _import_error(form, error)
        else:
            messages.success(request, f"Imported {workflow.name}.")
            return redirect("workflows:detail", pk=workflow.pk)
    return render(request, "workflows/import.html", {"form": form}, status=_status(request, form))


def is_n8n_export(document: Any) -> bool:
    """An n8n export, or a list of them (``n8n export:workflow --all``)."""
    if isinstance(document, list):
        return bool(document) and all(looks_like_n8n(d) for d in document)
    return looks_like_n8n(document)


def _n8n_import(request: WorkspaceHttpRequest, document: Any) -> HttpResponse:
    """Import n8n workflows and show what became of every node and expression."""
    imported = workflows_import_n8n(
        user=request.caller,
        workspace=request.workspace,
        documents=document if isinstance(document, list) else [document],
    )
    messages.success(request, f"Imported {len(imported)} workflow(s) from n8n.")
    return render(request, "workflows/import_report.html", {"imported": imported}, status=201)


def _status(request: WorkspaceHttpRequest, form: Any) -> int:
    return 400 if request.method == "POST" and form.errors else 200


def _import_error(form: WorkflowImportForm, error: LinkflowError) -> None:
    """A refused document: every problem the service named, on the input it came from."""
    field = form.cleaned_data.get("source_field", "text")
    details = error.details if isinstance(error.details, dict) else {}
    lines: list[str] = []
    for problem in details.get("problems") or []:
        where = f"node {problem['node_id']}: " if problem.get("node_id") else ""
        lines.append(f"{where}{problem.get('message')}")
    for name, value in details.items():
        if name in ("problems",):
            continue
        for message in value if isinstance(value, list) else [value]:
            lines.append(f"{name}: {message}")
    form.add_error(field, error.message)
    for line in lines:
        form.add_error(field, line)


# --- webhooks --------------------------------------------------------------------------------
_EXAMPLE_BODY = {"hello": "world"}


def _webhooks(request: WorkspaceHttpRequest, workflow: Workflow) -> list[dict[str, Any]]:
    """Each webhook trigger's URLs (built as the API builds them) and a curl to call it."""
    triggers = list(workflow.webhook_triggers.all())
    if not triggers:
        return []
    urls = {
        row["node_id"]: row
        for row in WebhookOutSerializer(triggers, many=True, context={"request": request}).data
    }
    credentials = {
        c.pk: c
        for c in Credential.objects.filter(
            workspace_id=workflow.workspace_id,
            pk__in=[_as_uuid(t.credential_id) for t in triggers if _as_uuid(t.credential_id)],
        )
    }
    shown = []
    for trigger in triggers:
        url = urls[trigger.node_id]["url"]
        credential_id = _as_uuid(trigger.credential_id)
        credential = credentials.get(credential_id) if credential_id else None
        header = _token_header(credential) if trigger.auth == WebhookAuth.HEADER else ""
        shown.append(
            {
                "trigger": trigger,
                "url": url,
                "path_url": urls[trigger.node_id]["path_url"],
                "curl": _curl(trigger.method, url, trigger.auth, token_header=header),
                "credential_name": credential.name if credential else None,
                "token_header": header,
            }
        )
    return shown


def _token_header(credential: Credential | None) -> str:
    """The header a header-token webhook reads: the credential's ``header_name`` (a plain
    setting, not one of its secrets) or the default."""
    if credential is None:
        return DEFAULT_TOKEN_HEADER
    name = str(credential_fields(credential=credential).get("header_name") or "")
    # Only a plain header name goes into the shell command as is.
    return name if _HEADER_NAME.fullmatch(name) else DEFAULT_TOKEN_HEADER


def _curl(method: str, url: str, auth: str, *, token_header: str = DEFAULT_TOKEN_HEADER) -> str:
    """A shell command that calls the webhook with an example JSON body."""
    body = json.dumps(_EXAMPLE_BODY)
    has_body = method not in ("GET", "DELETE")
    parts = ["curl", "-X", method, shlex.quote(url if has_body else url + "?hello=world")]
    if has_body:
        parts += ["-H", shlex.quote("Content-Type: application/json")]
    if auth == WebhookAuth.HEADER:
        # Double quotes so the shell fills in the token from the environment.
        parts += ["-H", f'"{token_header}: $WEBHOOK_TOKEN"']
    if auth == WebhookAuth.HMAC:
        # The signature covers "<unix time>." + the exact body bytes.
        sign = (
            f"BODY={shlex.quote(body if has_body else '')}\n"
            "T=$(date +%s)\n"
            'SIG=$(printf \'%s\' "$T.$BODY" | openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" '
            "| sed 's/^.* //')\n"
        )
        parts += ["-H", '"X-LinkFlow-Signature: t=$T,v1=$SIG"']
        if has_body:
            parts += ["--data-binary", '"$BODY"']
        return sign + " ".join(parts)
    if has_body:
        parts += ["-d", shlex.quote(body)]
    return " ".join(parts)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
