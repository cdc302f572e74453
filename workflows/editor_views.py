"""The graph editor, its save endpoint, running a workflow, and the version history.

The editor page hands the browser the current graph (every node placed, see
``editor.graph_layout``), the node catalog and the workspace's credentials; editor.js
edits the graph in memory and posts it whole to ``save``, which goes through the same
``workflow_update`` service as the API and answers JSON (the API's error shape on 4xx).
"""

import json
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from rest_framework import serializers

from credentials.selectors import credential_list
from executions.models import ExecutionMode
from executions.services import execution_create
from linkflow.accounts.http import WorkspaceHttpRequest
from linkflow.accounts.models import WRITER_ROLES, Role
from linkflow.accounts.web import page, show_error
from linkflow.core.errors import ErrorCode, LinkflowError, PermissionDenied
from linkflow.core.json_body import NestedTooDeep, body_bytes, json_loads
from linkflow.core.validators import storable_json

from . import editor, selectors, services
from .models import Workflow, WorkflowVersion
from .notes import NOTE_COLORS, layout_notes


class ExecuteForm(forms.Form):
    input = forms.CharField(
        label="Input JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="A JSON object: the trigger's item. Empty means {}.",
    )

    def clean_input(self) -> dict[str, Any]:
        text = self.cleaned_data["input"].strip()
        if not text:
            return {}
        try:
            value = json_loads(text)
        except LinkflowError as error:
            raise forms.ValidationError(error.message.replace("The body is", "This is")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, like {"name": "Ada"}.')
        try:
            stored: dict[str, Any] = storable_json(value)
        except serializers.ValidationError as error:
            raise forms.ValidationError(_first_message(error)) from None
        return stored


def _first_message(error: serializers.ValidationError) -> str:
    """The one message storable_json's refusal carries (DRF keeps it in a list)."""
    detail = error.detail
    return str(detail[0] if isinstance(detail, list) else detail)


def _can_edit(workflow: Workflow) -> bool:
    # The role in the workflow's own workspace, which workflow_get annotated.
    return getattr(workflow, "caller_role", None) in WRITER_ROLES


def _editable(request: WorkspaceHttpRequest, pk: UUID) -> Workflow:
    """The workflow, when the user may change it; else 404 or the 403 page (nothing done)."""
    workflow = selectors.workflow_get(user=request.caller, id=pk)
    if not _can_edit(workflow):
        raise PermissionDenied("Changing or running this workflow needs the editor role.")
    return workflow


def _versions(workflow: Workflow) -> list[WorkflowVersion]:
    return list(
        workflow.versions.filter(test=False).select_related("created_by").order_by("-number")
    )


@require_GET
@page(at_least=Role.VIEWER)
def edit(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """The canvas with the current graph; read-only for viewers."""
    workflow = selectors.workflow_get(user=request.caller, id=pk)
    version = workflow.current_version
    graph = version.graph if version else {"nodes": [], "edges": []}
    credentials = credential_list(user=request.caller).filter(workspace_id=workflow.workspace_id)
    context = {
        "workflow": workflow,
        "version": version,
        "editable": _can_edit(workflow),
        "graph": editor.graph_with_layout(graph, workflow.layout),
        "notes": layout_notes(workflow.layout),
        "note_colors": NOTE_COLORS,
        "catalog": editor.node_catalog(),
        "credentials": [{"id": str(c.pk), "name": c.name, "type": c.type} for c in credentials],
        "execute_form": ExecuteForm(),
    }
    return render(request, "workflows/editor.html", context)


def _error_json(error: LinkflowError) -> JsonResponse:
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return JsonResponse(body, status=error.status_code)


@require_POST
@page(at_least=Role.EDITOR)
def save(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """Store the posted ``{"graph": …}`` as a new version (none when it is unchanged).

    Answers ``{"version": n, "created": bool}``, or the API's error shape: 400 with every
    problem of the graph and its node id, so the editor can mark the nodes.
    """
    workflow = _editable(request, pk)
    try:
        graph = _posted_graph(request)
        before = workflow.current_version_id
        workflow = services.workflow_update(
            user=request.caller,
            workflow=workflow,
            changes={"graph": graph},
        )
    except LinkflowError as error:
        return _error_json(error)
    version = workflow.current_version
    return JsonResponse(
        {"version": version.number, "created": version.pk != before}  # type: ignore[union-attr]
    )


@require_POST
@page(at_least=Role.EDITOR)
def layout(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """Store the posted ``{"positions": {node_id: {x, y}}, "notes"?: [note]}`` as the
    nodes' places and the sticky notes on the canvas (no new version). Answers
    ``{"saved": n, "notes": n}`` or the API's error shape."""
    workflow = _editable(request, pk)
    try:
        body = _posted_json(request)
        positions = body.get("positions") if isinstance(body, dict) else None
        workflow = services.workflow_layout_save(
            user=request.caller,
            workflow=workflow,
            positions=positions,
            notes=body.get("notes") if isinstance(body, dict) else None,
        )
    except LinkflowError as error:
        return _error_json(error)
    notes = layout_notes(workflow.layout)
    return JsonResponse({"saved": len(workflow.layout) - (1 if notes else 0), "notes": len(notes)})


def _posted_json(request: WorkspaceHttpRequest) -> Any:
    """The posted JSON (None for no body); 413 past the request limit, 400
    ``malformed_request`` for too-deep JSON, ``validation_error`` on ``positions`` else."""
    raw = body_bytes(request)
    try:
        return json_loads(raw or b"null")
    except NestedTooDeep:
        raise
    except LinkflowError:
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={"positions": ['Post a JSON object {"positions": {...}}.']},
        ) from None


def _posted_graph(request: WorkspaceHttpRequest) -> Any:
    raw = body_bytes(request)  # 413 passes through, as a too-deep body does below
    try:
        graph = json_loads(raw or b"null")["graph"]
        return storable_json(graph)
    except NestedTooDeep:
        raise
    except (LinkflowError, KeyError, TypeError):
        message = 'Post a JSON object {"graph": {...}}.'
    except serializers.ValidationError as error:
        message = _first_message(error)
    raise LinkflowError(
        ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", details={"graph": [message]}
    )


@page(at_least=Role.EDITOR)
def execute(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """Run the current version with the given input, then show the run."""
    workflow = _editable(request, pk)
    form = ExecuteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            execution = execution_create(
                user=request.caller,
                workflow=workflow,
                trigger_input=form.cleaned_data["input"],
                mode=ExecutionMode.MANUAL,
            )
        except LinkflowError as error:
            show_error(form, error)
        else:
            return redirect("runs:detail", pk=execution.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "workflows/editor_execute.html",
        {"workflow": workflow, "form": form},
        status=status,
    )


@require_GET
@page(at_least=Role.VIEWER)
def history(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """Every version with its author and time, to compare two or restore one."""
    workflow = selectors.workflow_get(user=request.caller, id=pk)
    return render(
        request,
        "workflows/editor_versions.html",
        {"workflow": workflow, "versions": _versions(workflow), "editable": _can_edit(workflow)},
    )


@require_GET
@page(at_least=Role.VIEWER)
def diff(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """What changed from version ``a`` to version ``b`` (query parameters, numbers)."""
    workflow = selectors.workflow_get(user=request.caller, id=pk)
    numbers = []
    for key in ("a", "b"):
        try:
            numbers.append(int(request.GET.get(key, "")))
        except ValueError:
            messages.error(request, "Pick two versions to compare.")
            return redirect("editor:versions", pk=workflow.pk)
    old = get_object_or_404(WorkflowVersion, workflow=workflow, number=numbers[0], test=False)
    new = get_object_or_404(WorkflowVersion, workflow=workflow, number=numbers[1], test=False)
    changes = editor.version_diff(old.graph, new.graph)
    for node in changes["nodes_changed"]:
        for change in node["changes"]:
            change["old_text"] = _shown(change["old"])
            change["new_text"] = _shown(change["new"])
    context = {
        "workflow": workflow,
        "old": old,
        "new": new,
        "diff": changes,
        "editable": _can_edit(workflow),
    }
    return render(request, "workflows/editor_diff.html", context)


def _shown(value: Any) -> str:
    return "—" if value is None else json.dumps(value, ensure_ascii=False)


@require_POST
@page(at_least=Role.EDITOR)
def restore(request: WorkspaceHttpRequest, pk: UUID, number: int) -> HttpResponse:
    """Make a new version whose graph is version ``number``'s."""
    workflow = _editable(request, pk)
    old = get_object_or_404(WorkflowVersion, workflow=workflow, number=number, test=False)
    before = workflow.current_version_id
    try:
        workflow = services.workflow_update(
            user=request.caller,
            workflow=workflow,
            changes={"graph": old.graph},
        )
    except LinkflowError as error:
        messages.error(request, f"Version {number} cannot be restored: {error.message}")
        return redirect("editor:versions", pk=workflow.pk)
    if workflow.current_version_id == before:
        messages.info(request, f"Version {number} is already the current graph.")
    else:
        current = workflow.current_version
        messages.success(
            request,
            f"Restored version {number} as version {current.number}.",  # type: ignore[union-attr]
        )
    return redirect("editor:edit", pk=workflow.pk)
