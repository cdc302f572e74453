"""Writes on workflows. Every graph is validated by the engine before it is stored."""

import json
from copy import deepcopy
from typing import Any, TypeGuard

from django.db import transaction
from django.db.models import Max

from billing.limits import check_activation_allowed
from linkflow.accounts.caller import Actor, user_of
from linkflow.accounts.models import User, Workspace
from linkflow.accounts.selectors import require_writer
from linkflow.audit.services import audit_record
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.engine import validate_graph
from linkflow.engine.versions import versions_pinned, versions_stamped

from .cron_sync import schedule_triggers_remove, schedule_triggers_sync
from .current_graph import workflow_graph
from .error_codes import WorkflowErrorCode
from .listener_triggers import listener_triggers_sync
from .models import SWITCH_SETTING_FIELDS, WebhookTrigger, Workflow, WorkflowVersion
from .notes import NOTES_KEY, layout_notes, notes_checked
from .references import credentials_unknown_dropped, references_check
from .subworkflow_inputs import subworkflow_callers_check
from .webhook_rows import WEBHOOK_NODE_TYPE, path_normalized, webhook_triggers_sync


def graph_check(graph: Any) -> None:
    """Raise ``workflow_graph_invalid`` (400) listing every problem the engine finds."""
    problems = validate_graph(graph)
    if problems:
        raise LinkflowError(
            WorkflowErrorCode.WORKFLOW_GRAPH_INVALID,
            f"The workflow graph has {len(problems)} problem(s).",
            details={"problems": [p.as_dict() for p in problems]},
        )


@transaction.atomic
def workflow_create(
    *,
    user: Actor,
    workspace: Workspace,
    name: str,
    graph: Any,
    description: str = "",
    settings: dict[str, Any] | None = None,
) -> Workflow:
    """Create a workflow with version 1 of ``graph`` in ``workspace``; ``settings`` sets
    some of its on/off settings (SWITCH_SETTING_FIELDS: the save policy, whose unset
    fields keep everything, and ``webhook_error_details``, off unless set) and its
    ``error_workflow`` (a workflow of the workspace, else ``validation_error``).

    Raises NotFound/PermissionDenied unless the user may write there, and
    ``workflow_graph_invalid`` for a bad graph and ``webhook_path_taken`` (409) for a
    webhook path used elsewhere in the workspace (nothing is stored then); a credential or
    workflow id that names nothing here, or a credential of the wrong type, is a
    ``workflow_graph_invalid`` problem too (references.py). Nodes without a
    ``version`` get their type's current one (engine/versions.py).
    """
    require_writer(user=user, workspace_id=workspace.id)
    graph = versions_stamped(graph)
    graph_check(graph)
    subworkflow_callers_check(workspace_id=workspace.id, graph=graph)
    references_check(workspace_id=workspace.id, graph=graph, ready=False)
    policy = {key: value for key, value in (settings or {}).items() if key in SWITCH_SETTING_FIELDS}
    chosen = (settings or {}).get("error_workflow")
    if chosen is not None:
        policy["error_workflow_id"] = _error_workflow_check(
            workspace_id=workspace.id, workflow_id=chosen
        )
    workflow = Workflow.objects.create(
        workspace=workspace, name=name, description=description, created_by=user_of(user), **policy
    )
    _version_add(workflow=workflow, graph=graph, user=user_of(user))
    webhook_triggers_sync(workflow=workflow)
    schedule_triggers_sync(workflow=workflow)
    listener_triggers_sync(workflow=workflow)
    return workflow


@transaction.atomic
def workflow_update(*, user: Actor, workflow: Workflow, changes: dict[str, Any]) -> Workflow:
    """Apply ``changes`` (name, description, active, graph, and ``settings``: a dict of
    some of SWITCH_SETTING_FIELDS and ``error_workflow``); a changed graph adds a version.
    An ``error_workflow`` outside the workspace raises ``validation_error`` (400).

    The workflow row is locked so two concurrent saves cannot take the same version number.
    Activating past the plan's active workflows raises ``plan_limit_exceeded`` (402).
    A graph's references are checked as on create; an active workflow (or one being
    activated) must also have every credential its nodes need (``workflow_graph_invalid``).
    """
    require_writer(user=user, workspace_id=workflow.workspace_id)
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    was_active = workflow.active
    if changes.get("active") and not workflow.active:
        check_activation_allowed(workspace_id=workflow.workspace_id)
        if "graph" not in changes and workflow.current_version is not None:
            graph = workflow.current_version.graph
            references_check(workspace_id=workflow.workspace_id, graph=graph, ready=True)
    values = {**changes.get("settings", {}), **changes}
    fields = [f for f in ("name", "description", "active", *SWITCH_SETTING_FIELDS) if f in values]
    for field in fields:
        setattr(workflow, field, values[field])
    if "error_workflow" in changes.get("settings", {}):
        target = changes["settings"]["error_workflow"]
        workflow.error_workflow_id = target and _error_workflow_check(
            workspace_id=workflow.workspace_id, workflow_id=target
        )
        fields.append("error_workflow")
    if "graph" in changes:
        current = workflow.current_version
        # A node already stored keeps its version; a new one gets the current version.
        graph = versions_stamped(changes["graph"], previous=current.graph if current else None)
        graph_check(graph)
        subworkflow_callers_check(workspace_id=workflow.workspace_id, graph=graph)
        # An active workflow (or one being activated) must be able to run as saved.
        references_check(workspace_id=workflow.workspace_id, graph=graph, ready=workflow.active)
        if current is None or current.graph != graph:
            _version_add(workflow=workflow, graph=graph, user=user_of(user))
            webhook_triggers_sync(workflow=workflow)
    if fields:
        workflow.save(update_fields=[*fields, "updated_at"])
    if "active" in fields or "graph" in changes:
        schedule_triggers_sync(workflow=workflow)  # (de)activation adds or drops cron tasks
        listener_triggers_sync(workflow=workflow)  # ... and listeners
    if workflow.active != was_active:
        audit_record(
            action="workflow.activate" if workflow.active else "workflow.deactivate",
            workspace_id=workflow.workspace_id,
            actor=user_of(user),
            target=workflow,
            data={"name": workflow.name},
        )
    return workflow


def _error_workflow_check(*, workspace_id: Any, workflow_id: Any) -> Any:
    """``workflow_id`` if it names a workflow of the workspace, else ``validation_error``
    naming ``settings.error_workflow``: another workspace's workflow is as unknown as a
    missing one, so its existence is not given away."""
    if not Workflow.objects.filter(pk=workflow_id, workspace_id=workspace_id).exists():
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={"settings": {"error_workflow": ["No workflow with this id here."]}},
        )
    return workflow_id


# Bounds of a stored layout: one entry per node, coordinates on a generous canvas.
_LAYOUT_MAX_NODES = 1000
_LAYOUT_MAX_COORDINATE = 1_000_000


def workflow_layout_save(
    *, user: Actor, workflow: Workflow, positions: Any, notes: Any = None
) -> Workflow:
    """Store where the editor draws the nodes: ``{node_id: {"x": number, "y": number}}``,
    and, when ``notes`` is given, the canvas's sticky notes (see ``editor.NOTE_SCHEMA``).

    Replaces the whole layout; ids not in the current graph are dropped; ``notes=None``
    keeps the stored notes. Needs the editor role (403). A malformed map or note raises
    ``validation_error`` (400) naming ``positions`` or ``notes``, and the stored layout
    stays as it was. Makes no version: notes and places are not part of the graph.
    """
    require_writer(user=user, workspace_id=workflow.workspace_id)
    layout: dict[str, Any] = dict(_layout_checked(positions))
    known = {node.id for node in workflow_graph(workflow).nodes}
    layout = {node_id: spot for node_id, spot in layout.items() if node_id in known}
    kept = layout_notes(workflow.layout) if notes is None else notes_checked(notes)
    if kept:
        layout[NOTES_KEY] = kept
    Workflow.objects.filter(pk=workflow.pk).update(layout=layout)
    workflow.layout = layout
    return workflow


def _layout_checked(positions: Any) -> dict[str, dict[str, float]]:
    def invalid(message: str) -> LinkflowError:
        return LinkflowError(
            ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", details={"positions": [message]}
        )

    if not isinstance(positions, dict) or len(positions) > _LAYOUT_MAX_NODES:
        raise invalid(f"An object of at most {_LAYOUT_MAX_NODES} node ids to {{x, y}}.")
    layout: dict[str, dict[str, float]] = {}
    for node_id, spot in positions.items():
        x, y = (spot.get(axis) if isinstance(spot, dict) else None for axis in "xy")
        if not (_is_coordinate(x) and _is_coordinate(y)):
            raise invalid(f"Node {str(node_id)[:100]!r} needs numbers x and y.")
        layout[str(node_id)] = {"x": x, "y": y}
    return layout


def _is_coordinate(value: object) -> TypeGuard[float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and abs(value) <= _LAYOUT_MAX_COORDINATE
    )


def workflow_delete(*, user: Actor, workflow: Workflow) -> None:
    """Delete the workflow with its versions and executions."""
    require_writer(user=user, workspace_id=workflow.workspace_id)
    with transaction.atomic():
        schedule_triggers_remove(workflow=workflow)  # PeriodicTasks have no FK to cascade
        workflow.delete()


def _version_add(*, workflow: Workflow, graph: Any, user: User | None) -> WorkflowVersion:
    last = workflow.versions.aggregate(n=Max("number"))["n"] or 0
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=last + 1, graph=graph, created_by=user
    )
    workflow.current_version = version
    workflow.save(update_fields=["current_version", "updated_at"])
    return version


# --- copies: duplicate, export, import ------------------------------------------------------
EXPORT_FORMAT = "linkflow.workflow"
EXPORT_FORMAT_VERSION = 1
_IMPORT_NAME_MAX = 200


def workflow_duplicate(*, user: Actor, workflow: Workflow, name: str | None = None) -> Workflow:
    """A new, inactive workflow in the same workspace with the current graph of ``workflow``.

    Webhook paths are workspace-unique, so a copy of a workflow with readable webhook paths
    would collide with its original: the copy's nodes drop their paths (they keep a token
    URL of their own). Same errors as ``workflow_create``.
    """
    graph = workflow.current_version.graph if workflow.current_version else starter_graph()
    return workflow_create(
        user=user,
        workspace=workflow.workspace,
        name=name or _copy_name(workflow.name),
        description=workflow.description,
        graph=_without_webhook_paths(versions_pinned(graph)),
    )


def workflow_export(*, workflow: Workflow) -> dict[str, Any]:
    """The workflow as a portable JSON document (what ``workflow_import`` reads back).

    Only the definition travels: no ids, no webhook tokens, no execution history.
    Credentials stay referenced by id, since their secrets never leave the workspace.
    """
    version = workflow.current_version
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "name": workflow.name,
        "description": workflow.description,
        "version": version.number if version else None,
        "graph": versions_pinned(version.graph) if version else starter_graph(),
    }


def workflow_import(*, user: Actor, workspace: Workspace, document: Any) -> Workflow:
    """Create an inactive workflow in ``workspace`` from an exported document.

    Also accepts the API's workflow representation (any object with ``name`` and
    ``graph``). Raises ``validation_error`` (400) naming ``document``, ``name`` or
    ``graph`` for a document of the wrong shape, and the errors of ``workflow_create``.
    Webhook paths are dropped when they are already taken in the workspace, and
    credentials that are not this workspace's (a copy from elsewhere) are dropped too: the
    nodes come in as drafts that need their credentials set before activation.
    """
    require_writer(user=user, workspace_id=workspace.id)
    if not isinstance(document, dict):
        raise _invalid("document", "Expected a JSON object with a name and a graph.")
    if document.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
        raise _invalid("document", f"Unknown format '{document.get('format')}'.")
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name", "The document has no workflow name.")
    if len(name) > _IMPORT_NAME_MAX:
        raise _invalid("name", f"Use at most {_IMPORT_NAME_MAX} characters.")
    description = document.get("description") or ""
    if not isinstance(description, str):
        raise _invalid("description", "Expected text.")
    graph = document.get("graph")
    if not isinstance(graph, dict):
        raise _invalid("graph", "The document has no graph object.")
    _storable_check(document)
    if _webhook_paths_taken(workspace=workspace, graph=graph):
        graph = _without_webhook_paths(graph)
    graph = credentials_unknown_dropped(workspace_id=workspace.id, graph=graph)
    return workflow_create(
        user=user, workspace=workspace, name=name.strip(), description=description, graph=graph
    )


# What a new workflow starts from: a manual trigger, so it is valid and can run at once.
_STARTER_GRAPH: dict[str, Any] = {
    "nodes": [{"id": "start", "type": "trigger.manual", "name": "Start"}],
    "edges": [],
}


def starter_graph() -> dict[str, Any]:
    """A fresh copy of the minimal valid graph a new workflow begins with."""
    return deepcopy(_STARTER_GRAPH)


def _copy_name(name: str) -> str:
    suffix = " (copy)"
    return name[: _IMPORT_NAME_MAX - len(suffix)] + suffix


def _without_webhook_paths(graph: Any) -> Any:
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        return graph
    copy = json.loads(json.dumps(graph))
    for node in copy["nodes"]:
        if not isinstance(node, dict) or node.get("type") != WEBHOOK_NODE_TYPE:
            continue
        if isinstance(node.get("params"), dict):
            node["params"].pop("path", None)
    return copy


def _webhook_paths_taken(*, workspace: Workspace, graph: dict[str, Any]) -> bool:
    paths = set()
    for node in graph.get("nodes") or []:
        if isinstance(node, dict) and node.get("type") == WEBHOOK_NODE_TYPE:
            params = node.get("params") or {}
            if isinstance(params, dict) and isinstance(params.get("path"), str):
                paths.add(path_normalized(params["path"]))
    paths.discard("")
    return bool(paths) and (
        WebhookTrigger.objects.filter(workspace=workspace, path__in=paths).exists()
    )


def _storable_check(document: Any) -> None:
    # PostgreSQL's jsonb refuses NUL and unpaired surrogates: refuse them here, not with a 500.
    text = json.dumps(document, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid("document", "Text may not contain unpaired surrogates.") from None
    if "\\u0000" in text:
        raise _invalid("document", "Text may not contain NUL (\\u0000) characters.")


def _invalid(field: str, message: str) -> LinkflowError:
    return LinkflowError(
        ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", details={field: [message]}
    )
