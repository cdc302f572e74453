"""The run view: one execution on its graph, live, with each node's runs and the actions
(cancel, retry, re-run from a node) through the same operations as the API.

The page draws the pinned version's graph with each node's latest status; run.js keeps it
current from the WebSocket feed and loads a node's runs from ``node`` (an htmx partial),
where input and output items are paged so a large payload never arrives whole.
"""

import json
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from executions import operations, selectors
from executions.models import FINISHED_STATUSES, Execution
from executions.running.files import execution_file_names
from executions.running.payloads import PayloadMissing, payload_load
from linkflow.accounts.http import WorkspaceHttpRequest
from linkflow.accounts.models import WRITER_ROLES, Role
from linkflow.accounts.selectors import role_in
from linkflow.accounts.web import page
from linkflow.core.errors import LinkflowError, PermissionDenied
from linkflow.engine import Graph
from workflows.editor import graph_with_layout, node_catalog

ITEMS_PER_PAGE = 20
# Objects and lists this deep or deeper start folded in the JSON view.
OPEN_DEPTH = 2
# Deeper than this a value is shown as one line of JSON: a payload nested thousands of
# levels deep (an outside service's answer) must not exhaust the stack.
FOLD_DEPTH = 40


def _can_act(request: WorkspaceHttpRequest, execution: Execution) -> bool:
    role = role_in(user=request.caller, workspace_id=execution.workspace_id)
    return role in WRITER_ROLES


def _statuses(execution: Execution) -> dict[str, str]:
    """Each node's latest status (runs come in the order the runner decided them)."""
    latest = {run.node_id: run.status for run in execution.node_runs.all()}
    if execution.status not in FINISHED_STATUSES:
        for node in Graph.from_dict(execution.version.graph).nodes:
            latest.setdefault(node.id, "queued")
    return latest


@require_GET
@page(at_least=Role.VIEWER)
def detail(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """The execution's graph coloured by status, its summary and its actions."""
    execution = selectors.execution_get(user=request.caller, id=pk)
    context = {
        "execution": execution,
        "workflow": execution.workflow,
        "graph": graph_with_layout(execution.version.graph),
        "statuses": _statuses(execution),
        "catalog": [
            {k: t[k] for k in ("type", "label", "outputs", "is_trigger")} for t in node_catalog()
        ],
        "can_act": _can_act(request, execution),
        "finished": execution.status in FINISHED_STATUSES,
        "current_version": execution.workflow.current_version,
    }
    return render(request, "executions/run.html", context)


def _loaded(value: Any) -> Any:
    try:
        return payload_load(value)
    except PayloadMissing:
        return None  # removed by retention cleanup: the template says so


def _paged(
    items: Any, request: WorkspaceHttpRequest, param: str, execution: Execution
) -> dict[str, Any] | None:
    """One page of ``items`` rendered as JSON views, with links to its neighbours that keep
    the panel's other pages where they are."""
    if not isinstance(items, list):
        return None
    page_ = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get(param))

    def url(number: int) -> str:
        query = request.GET.copy()
        query[param] = str(number)
        return f"{request.path}?{query.urlencode()}"

    return {
        "rows": [json_html(item) + _file_links(item, execution) for item in page_.object_list],
        "count": len(items),
        "number": page_.number,
        "num_pages": page_.paginator.num_pages,
        "first_index": page_.start_index(),
        "last_index": page_.end_index(),
        "prev_url": url(page_.previous_page_number()) if page_.has_previous() else None,
        "next_url": url(page_.next_page_number()) if page_.has_next() else None,
    }


def _file_links(item: Any, execution: Execution) -> SafeString:
    """Download links for the execution's own file items in ``item`` (through the API,
    which checks access again; a reference to any other execution gets no link)."""
    names = execution_file_names(item, execution_id=str(execution.pk))
    if not names:
        return SafeString("")
    links = format_html_join(
        " ",
        '<a class="btn btn-small" data-file-download href="{}" download>Download {}</a>',
        (
            (reverse("execution-file", kwargs={"pk": execution.pk, "name": key}), name)
            for key, name in names
        ),
    )
    return format_html('<p class="file-links small">{}</p>', links)


def _run_view(run: Any, request: WorkspaceHttpRequest) -> dict[str, Any]:
    """One NodeRun as the panel shows it: input and each output port paged."""
    items_in, output = _loaded(run.input), _loaded(run.output)
    ports = output.items() if isinstance(output, dict) else []
    # Each run pages on its own: a loop's batches and a node's pages are runs too.
    key = f"{run.iteration}-{run.attempt}" if run.iteration else f"{run.attempt}"
    return {
        "run": run,
        "input": _paged(items_in, request, f"in{key}", run.execution),
        "input_missing": items_in is None,
        "outputs": [
            {"port": port, "page": _paged(items, request, f"out{key}-{port}", run.execution)}
            for port, items in ports
        ],
        "output_missing": output is None,
        "error": json_html(run.error) if run.error else None,
        # A succeeded run's notes (a dropped webhook header) are no error.
        "warning": isinstance(run.error, dict) and run.error.get("warning") is True,
    }


def _iteration_label(graph: Graph, node_id: str) -> str:
    """What a run's iteration counts for this node: the batches of the loop it is in, or
    else the pages it follows."""
    return "Batch" if graph.in_loop_body(node_id) else "Page"


@require_GET
@page(at_least=Role.VIEWER)
def node(request: WorkspaceHttpRequest, pk: UUID, node_id: str) -> HttpResponse:
    """The runs of one node of the execution (every attempt, every batch of a loop and
    page of a paginated request), as a partial for the panel."""
    execution = selectors.execution_get(user=request.caller, id=pk)
    graph = Graph.from_dict(execution.version.graph)
    found = graph.find(node_id)
    if found is None:
        return render(request, "404.html", status=404)
    runs = [run for run in execution.node_runs.all() if run.node_id == node_id]
    context = {
        "execution": execution,
        "node": found,
        "iteration_label": _iteration_label(graph, node_id),
        "runs": [_run_view(run, request) for run in runs],
        "can_act": _can_act(request, execution),
        "finished": execution.status in FINISHED_STATUSES,
        "current_version": execution.workflow.current_version,
    }
    return render(request, "executions/run_node.html", context)


@require_POST
@page(at_least=Role.VIEWER)
def cancel(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """Stop a queued, waiting or running execution."""
    execution = _actable(request, pk)
    try:
        operations.execution_cancel(user=request.caller, execution=execution)
        messages.success(request, "Execution cancelled.")
    except LinkflowError as error:
        messages.error(request, error.message)
    return redirect("runs:detail", pk=execution.pk)


@require_POST
@page(at_least=Role.VIEWER)
def retry(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """Run the version it ran (or the current one) with the same input, as a new execution."""
    execution = _actable(request, pk)
    version = request.POST.get("version", "original")[:16]
    try:
        repeat = operations.execution_retry(
            user=request.caller,
            execution=execution,
            version=version,
        )
    except LinkflowError as error:
        messages.error(request, _problems(error))
        return redirect("runs:detail", pk=execution.pk)
    messages.success(request, f"Retrying as a new execution{_on_version(repeat)}.")
    return redirect("runs:detail", pk=repeat.execution.pk)


@require_POST
@page(at_least=Role.VIEWER)
def rerun(request: WorkspaceHttpRequest, pk: UUID) -> HttpResponse:
    """Run ``from_node`` and everything after it again (in the version it ran or the
    current one), reusing the output of the other nodes that compute the same."""
    execution = _actable(request, pk)
    from_node = request.POST.get("from_node", "")[:64]
    version = request.POST.get("version", "original")[:16]
    try:
        repeat = operations.execution_rerun(
            user=request.caller,
            execution=execution,
            from_node=from_node,
            version=version,
        )
    except LinkflowError as error:
        messages.error(request, _problems(error))
        return redirect("runs:detail", pk=execution.pk)
    reused = ", ".join(repeat.reused_nodes) or "nothing"
    messages.success(
        request,
        f"Re-running from {from_node} as a new execution{_on_version(repeat)}: "
        f"reusing {reused}; running {', '.join(repeat.run_nodes)}.",
    )
    return redirect("runs:detail", pk=repeat.execution.pk)


def _on_version(repeat: operations.Repeat) -> str:
    return f" of v{repeat.execution.version.number}"


def _problems(error: LinkflowError) -> str:
    details = error.details if isinstance(error.details, dict) else {}
    problems = details.get("from_node") or details.get("version") or [error.message]
    return " ".join(str(p) for p in problems)


def _actable(request: WorkspaceHttpRequest, pk: UUID) -> Execution:
    execution = selectors.execution_get(user=request.caller, id=pk)
    if not _can_act(request, execution):
        raise PermissionDenied("Acting on executions needs the editor role.")
    return execution


# --- a collapsible JSON view, rendered here so it needs no script ----------------------------
def json_html(value: Any, depth: int = 0) -> SafeString:
    """``value`` as nested <details> lists: objects and arrays fold, scalars are coloured."""
    if depth >= FOLD_DEPTH and isinstance(value, dict | list):
        return format_html('<span class="json-deep">{}</span>', _compact(value))
    if isinstance(value, dict):
        return _folding(value.items(), "{", "}", f"{len(value)} keys", depth, keyed=True)
    if isinstance(value, list):
        return _folding(enumerate(value), "[", "]", f"{len(value)} items", depth, keyed=False)
    kind = (
        "null"
        if value is None
        else "bool"
        if isinstance(value, bool)
        else "number"
        if isinstance(value, int | float)
        else "string"
    )
    return format_html(
        '<span class="json-{}">{}</span>', kind, json.dumps(value, ensure_ascii=False)
    )


def _compact(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        return "… (nested too deep to show)"


def _folding(
    pairs: Any, opening: str, closing: str, size: str, depth: int, *, keyed: bool
) -> SafeString:
    pairs = list(pairs)
    if not pairs:
        return mark_safe(opening + closing)
    rows = format_html_join(
        "",
        "<li>{}{}</li>",
        (
            (
                format_html('<span class="json-key">{}</span>: ', json.dumps(str(key)))
                if keyed
                else "",
                json_html(child, depth + 1),
            )
            for key, child in pairs
        ),
    )
    return format_html(
        '<details{}><summary>{} <span class="muted">{}</span></summary><ul>{}</ul>{}</details>',
        " open" if depth < OPEN_DEPTH else "",
        opening,
        size,
        rows,
        closing,
    )
