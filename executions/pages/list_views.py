"""The execution list page: filters, cursor paging and the rows the live feed asks for."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails
from rest_framework.exceptions import NotFound as InvalidCursor
from rest_framework.request import Request

from executions import selectors
from executions.models import Execution
from executions.pages.forms import FILTER_FIELDS, ExecutionFilterForm
from linkflow.accounts.http import WorkspaceHttpRequest
from linkflow.accounts.web import page
from linkflow.core.api import CreatedCursorPagination
from linkflow.engine import Graph
from workflows.selectors import workflow_list

PAGE_SIZE = 25
# Rows the live feed may ask for at once.
MAX_LIVE_IDS = 50


class _Pagination(CreatedCursorPagination):
    """The API's cursor paging (same ordering, same cursors); a smaller default page."""

    page_size = PAGE_SIZE


@require_GET
@vary_on_headers("HX-Request")
@page()
def execution_list_page(request: WorkspaceHttpRequest) -> HttpResponse:
    """Executions of the current workspace, newest first, narrowed by the GET filters."""
    form = _filter_form(request)
    executions = selectors.execution_list_in_workspace(
        user=request.caller,
        workspace_id=request.workspace.pk,
        **form.selector_filters(),
    )
    paginator = _Pagination()
    try:
        rows = paginator.paginate_queryset(executions, Request(request)) or []
    except InvalidCursor:
        # A stale or edited cursor: start again from the newest, with the same filters.
        query = request.GET.copy()
        query.pop("cursor", None)
        return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
    filtered = any(request.GET.get(name) for name in FILTER_FIELDS)
    context = {
        "form": form,
        "executions": [_decorated(e) for e in rows],
        "next_url": _relative(paginator.get_next_link()),
        "previous_url": _relative(paginator.get_previous_link()),
        "first_page": not request.GET.get("cursor"),
        "filtered": filtered,
        "filter_query": _filter_query(request),
        "any_execution": filtered
        or bool(rows)
        or selectors.execution_list_in_workspace(
            user=request.caller,
            workspace_id=request.workspace.pk,
        ).exists(),
    }
    htmx: HtmxDetails | None = getattr(request, "htmx", None)
    partial = htmx is not None and bool(htmx) and not htmx.history_restore_request
    template = "executions/list_results.html" if partial else "executions/list.html"
    # htmx swaps only 2xx answers: a partial shows its field errors with a 200.
    status = 400 if form.errors and not partial else 200
    return render(request, template, context, status=status)


@require_GET
@page()
def execution_rows(request: WorkspaceHttpRequest) -> HttpResponse:
    """The table rows of the executions named by ``ids`` that match the filters (for the
    live feed: a new execution shows up only when the list would have shown it)."""
    ids = [value for value in request.GET.get("ids", "").split(",") if value][:MAX_LIVE_IDS]
    form = _filter_form(request)
    try:
        executions = list(
            selectors.execution_list_in_workspace(
                user=request.caller,
                workspace_id=request.workspace.pk,
                ids=ids,
                **form.selector_filters(),
            ).order_by("-created_at", "-id")
        )
    except (ValidationError, ValueError, TypeError):  # an id that is not a UUID
        executions = []
    context = {"executions": [_decorated(e) for e in executions]}
    return render(request, "executions/list_rows.html", context)


def _filter_form(request: WorkspaceHttpRequest) -> ExecutionFilterForm:
    workflows = workflow_list(user=request.caller).filter(workspace_id=request.workspace.pk)
    # Only what the select shows: a workspace may have hundreds of workflows.
    choices = workflows.select_related(None).order_by("name").only("id", "name", "workspace_id")
    form = ExecutionFilterForm(request.GET, workflows=choices)
    form.is_valid()
    return form


def _filter_query(request: WorkspaceHttpRequest) -> str:
    """The active filters as a query string (without the cursor)."""
    query = request.GET.copy()
    for name in list(query):
        if name not in FILTER_FIELDS or not query.get(name):
            query.pop(name)
    return query.urlencode()


def _relative(url: str | None) -> str | None:
    """The paginator's absolute link as a path and query (the page may sit behind a proxy
    that rewrites the host)."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _decorated(execution: Execution) -> Execution:
    """The execution with what a row shows: its run time and the trigger that fired."""
    execution.duration_text = _duration(execution)  # type: ignore[attr-defined]
    execution.trigger_text = _trigger(execution)  # type: ignore[attr-defined]
    return execution


def _duration(execution: Execution) -> str:
    if execution.started_at is None:
        return ""
    if execution.finished_at is None:
        return ""
    return _human(execution.finished_at - execution.started_at)


def _human(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 1:
        return f"{max(seconds, 0) * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _trigger(execution: Execution) -> str:
    """The name of the trigger node that fired, else what or who started the execution."""
    node_id = execution.trigger_node_id
    if node_id:
        node = Graph.from_dict(execution.version.graph).find(node_id)
        return str(node.name or node_id) if node is not None else node_id
    if execution.rerun_from_node:
        return f"re-run from {execution.rerun_from_node}"
    if execution.source_id:
        return "retry"
    creator = execution.created_by if execution.created_by_id else None
    if creator is not None:  # a manual or API run: who started it
        return f"by {creator.email}"
    return execution.get_mode_display()
