"""Test runs: the editor's build-test loop (docs/editor-loop.md).

A test run is an execution of mode ``test`` admitted under ``Admission.TEST`` (no plan
quota, own limits). It runs the saved graph, or an unsaved one kept as a hidden, unnumbered
snapshot version (``WorkflowVersion.test``, number 0): the execution still points at the
graph it ran, so its NodeRuns, the run view, retry and re-run work as for any run.

What a test run does not run is decided here and recorded before it is dispatched, as
NodeRuns the runner reuses (the way a re-run reuses its source's outputs; runner.py is
unchanged): a pinned node's items (``succeeded``, noted ``pinned``), a reused last-run
output (noted ``reused_from``) and, in a partial run, every node the target does not need
(``skipped``). Production executions never get here, so they never read pins.
"""

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from executions.models import Execution, ExecutionMode, NodeRun, NodeRunStatus
from executions.running.files import file_executions, files_carried_from
from executions.running.payloads import payload_load, payload_store
from executions.starting.creation import Admission, NewExecution, execution_admit
from linkflow.accounts.caller import Actor, user_of
from linkflow.accounts.models import User
from linkflow.accounts.selectors import require_writer, workspace_ids_for
from linkflow.core.errors import ErrorCode, LinkflowError, NotFound
from linkflow.engine import Graph, get_node_type
from workflows.error_codes import WorkflowErrorCode
from workflows.models import PinnedData, Workflow, WorkflowVersion
from workflows.pinned import first_output, pinned_list, pinned_put, pinned_put_many
from workflows.references import references_check

# How many earlier runs of a node to look through for one with the same definition.
LAST_RUN_LOOKBACK = 20


@dataclass
class _Seed:
    """A NodeRun recorded before the test run starts, which the runner reuses."""

    status: str
    output: Any = field(default_factory=dict)
    input: Any = field(default_factory=list)
    note: dict[str, Any] | None = None


def test_run_start(
    *,
    user: Actor,
    workflow: Workflow,
    graph: dict[str, Any] | None = None,
    node: str | None = None,
    trigger_input: dict[str, Any] | None = None,
    use_pinned: bool = True,
    trigger_node_id: str = "",
) -> Execution:
    """Start a test run of ``graph`` (default: the workflow's current graph).

    Without ``node`` the whole graph runs, pinned nodes giving their pins. With ``node``
    only what that node's output needs runs: walking upstream from it, a node with pinned
    items or last-run data (its output in the latest test run where it had the same type,
    params, credential and incoming edges) gives those and stops the walk; the others run.
    The node itself always runs. ``use_pinned=False`` ignores pins. A ``trigger_node_id``
    (the test webhook) makes that trigger emit ``trigger_input`` even if it is pinned.

    Raises PermissionDenied (403) below the editor role, ``workflow_graph_invalid`` (400)
    for an invalid ``graph`` (its credentials and sub-workflows checked as on save),
    ``validation_error`` (400, ``node``) for a node the graph does not have,
    ``workflow_has_no_version`` (409) and ``test_run_limit`` (429).
    """
    require_writer(user=user, workspace_id=workflow.workspace_id)
    ran, seeds = _prepare(
        workflow=workflow, graph=graph, node=node, use_pinned=use_pinned, trigger=trigger_node_id
    )
    with transaction.atomic():  # a refused run leaves no snapshot behind
        version = _version_for(workflow, ran, user=user_of(user))
        new = NewExecution(
            workspace_id=workflow.workspace_id,
            workflow_id=workflow.pk,
            version_id=version.pk,
            mode=ExecutionMode.TEST,
            trigger_input=trigger_input or {},
            trigger_node_id=trigger_node_id,
            created_by=user_of(user),
        )
        return execution_admit(
            new=new, admission=Admission.TEST, prepare=lambda run: _seed(run, seeds)
        )


@dataclass(frozen=True)
class RunPlan:
    """What a test run would do with each node, decided before anything runs: the nodes
    it runs for real (``run``, graph order), those giving pinned items, reused last-run
    output or skipped, and which of ``run`` reach past LinkFlow (``outside_effects``)."""

    run: list[str]
    pinned: list[str]
    reused: list[str]
    skipped: list[str]
    outside_effects: list[str]


def test_run_plan(
    *,
    user: Actor,
    workflow: Workflow,
    graph: dict[str, Any] | None = None,
    node: str | None = None,
    use_pinned: bool = True,
) -> RunPlan:
    """The plan ``test_run_start`` would follow with the same arguments, without starting
    anything: the editor asks it first, to warn before nodes with outside effects run for
    real (as in n8n, a test run sends the request or the mail). Raises what
    ``test_run_start`` raises before admission."""
    require_writer(user=user, workspace_id=workflow.workspace_id)
    ran, seeds = _prepare(workflow=workflow, graph=graph, node=node, use_pinned=use_pinned)
    nodes = Graph.from_dict(ran).nodes
    run = [n.id for n in nodes if n.id not in seeds and not n.disabled]

    def noted(key: str) -> list[str]:
        return [i for i, seed in seeds.items() if seed.note and key in seed.note]

    types = {n.id: get_node_type(n.type) for n in nodes}
    return RunPlan(
        run=run,
        pinned=noted("pinned"),
        reused=noted("reused_from"),
        skipped=[i for i, seed in seeds.items() if seed.status == NodeRunStatus.SKIPPED],
        outside_effects=[i for i in run if (cls := types[i]) is not None and cls.reaches_outside()],
    )


def _prepare(
    *,
    workflow: Workflow,
    graph: dict[str, Any] | None,
    node: str | None,
    use_pinned: bool,
    trigger: str = "",
) -> tuple[dict[str, Any], dict[str, _Seed]]:
    """The graph a test run runs and the NodeRuns it starts with (pins, reused, skipped)."""
    ran = _graph_for(workflow, graph)
    parsed = Graph.from_dict(ran)
    if node is not None and parsed.find(node) is None:
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={"node": [f"Node '{node}' is not in the graph."]},
        )
    pins = {p.node_id: p for p in pinned_list(workflow=workflow)} if use_pinned else {}
    pins.pop(trigger, None)
    return ran, _plan(workflow=workflow, graph=parsed, target=node, pins=pins)


def _graph_for(workflow: Workflow, graph: dict[str, Any] | None) -> dict[str, Any]:
    from workflows.services import graph_check  # workflows' services import this app

    if graph is not None:
        graph_check(graph)
        # What an unsaved graph names is checked as a save would (a partial run may
        # leave a needed credential unset).
        references_check(workspace_id=workflow.workspace_id, graph=graph, ready=False)
        return graph
    if workflow.current_version is None:
        raise LinkflowError(
            WorkflowErrorCode.WORKFLOW_HAS_NO_VERSION,
            "This workflow has no graph yet.",
            status_code=409,
        )
    saved: dict[str, Any] = workflow.current_version.graph
    return saved


def _version_for(workflow: Workflow, graph: dict[str, Any], *, user: User) -> WorkflowVersion:
    """The current version when the graph is the saved one, else a hidden snapshot."""
    current = workflow.current_version
    if current is not None and current.graph == graph:
        return current
    return WorkflowVersion.objects.create(
        workflow=workflow, number=0, graph=graph, test=True, created_by=user
    )


def _plan(
    *,
    workflow: Workflow,
    graph: Graph,
    target: str | None,
    pins: dict[str, PinnedData],
) -> dict[str, _Seed]:
    ids = [node.id for node in graph.nodes]
    if target is None:
        return {node_id: _pinned_seed(pins[node_id]) for node_id in ids if node_id in pins}
    seeds: dict[str, _Seed] = {}
    needed = {target}
    walk = _sources(graph, target)
    while walk:
        node_id = walk.pop()
        if node_id in needed or node_id in seeds:
            continue
        seed = (
            _pinned_seed(pins[node_id])
            if node_id in pins
            else _last_run_seed(workflow=workflow, graph=graph, node_id=node_id)
        )
        if seed is not None:
            seeds[node_id] = seed
            continue
        needed.add(node_id)
        walk.extend(_sources(graph, node_id))
    for node_id in ids:
        if node_id not in needed and node_id not in seeds:
            note = {"message": "Not needed for this test step; not run.", "warning": True}
            seeds[node_id] = _Seed(status=NodeRunStatus.SKIPPED, note=note)
    return seeds


def _sources(graph: Graph, node_id: str) -> list[str]:
    return [edge.source for edge in graph.incoming(node_id)]


def _pinned_seed(pin: PinnedData) -> _Seed:
    note = {"message": "Pinned data used; the node did not run.", "warning": True, "pinned": True}
    return _Seed(status=NodeRunStatus.SUCCEEDED, output={pin.port: pin.items}, note=note)


def definition(graph: Graph, node_id: str) -> tuple[Any, ...]:
    """What makes two runs of a node comparable: its type, params and credential, and
    where its input comes from (its incoming edges)."""
    node = graph.node(node_id)
    edges = sorted((edge.source, edge.output) for edge in graph.incoming(node_id))
    return (node.type, dict(node.params), node.credential, edges)


def _last_run_seed(*, workflow: Workflow, graph: Graph, node_id: str) -> _Seed | None:
    wanted = definition(graph, node_id)
    runs = (
        NodeRun.objects.filter(
            execution__workflow_id=workflow.pk,
            execution__mode=ExecutionMode.TEST,
            node_id=node_id,
            status=NodeRunStatus.SUCCEEDED,
        )
        # A pin's items are not what the node produced.
        .exclude(error__has_key="pinned")
        .select_related("execution__version")
        .order_by("-execution_created_at", "-attempt")[:LAST_RUN_LOOKBACK]
    )
    for run in runs:
        earlier = Graph.from_dict(run.execution.version.graph)
        if earlier.find(node_id) is not None and definition(earlier, node_id) == wanted:
            note = {
                "message": "Output of an earlier test run reused; the node did not run.",
                "warning": True,
                "reused_from": str(run.execution_id),
            }
            output = payload_load(run.output)
            return _Seed(NodeRunStatus.SUCCEEDED, output, payload_load(run.input), note)
    return None


def _seed(execution: Execution, seeds: dict[str, _Seed]) -> None:
    target = str(execution.pk)
    graph_nodes = {n.id: n.type for n in Graph.from_dict(execution.version.graph).nodes}
    seeds = {node_id: _with_own_files(seed, execution) for node_id, seed in seeds.items()}
    NodeRun.objects.bulk_create(
        NodeRun(
            execution=execution,
            node_id=node_id,
            node_type=graph_nodes.get(node_id, ""),
            status=seed.status,
            attempt=1,
            sequence=index,
            input=payload_store(execution_id=target, name=f"{node_id}-1-input", data=seed.input),
            output=payload_store(execution_id=target, name=f"{node_id}-1-output", data=seed.output),
            error=seed.note,
        )
        for index, (node_id, seed) in enumerate(seeds.items(), start=1)
    )


def _with_own_files(seed: _Seed, execution: Execution) -> _Seed:
    """``seed`` with copies, in the test run's name, of the files its items name from
    earlier executions of the same workflow (a pin, a reused output). A pin is user data:
    a reference to any other execution (another workflow, another workspace) is not
    copied and stays unreadable."""
    named = [
        segment
        for segment in file_executions(seed.output) | file_executions(seed.input)
        if _is_uuid(segment)
    ]
    sources = {
        str(pk)
        for pk in Execution.objects.filter(
            pk__in=named, workflow_id=execution.workflow_id, workspace_id=execution.workspace_id
        ).values_list("pk", flat=True)
    }
    if not sources:
        return seed
    target = str(execution.pk)
    return dataclasses.replace(
        seed,
        output=files_carried_from(seed.output, sources=sources, target_execution_id=target),
        input=files_carried_from(seed.input, sources=sources, target_execution_id=target),
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --- pinning from what ran ---------------------------------------------------------------


def pin_from_node_run(
    *, user: Actor, workflow: Workflow, node_id: str, node_run_id: uuid.UUID | str
) -> PinnedData:
    """Pin the output a NodeRun recorded (``main``, else its first port with items) as the
    node's pinned data. The NodeRun may be of any execution the user can see.

    Raises NotFound (404) for a NodeRun outside the user's workspaces (or no such id),
    PermissionDenied (403) and the errors of ``pinned_put``.
    """
    try:
        run = NodeRun.objects.get(
            pk=node_run_id, execution__workspace_id__in=workspace_ids_for(user=user)
        )
    except (NodeRun.DoesNotExist, ValueError, TypeError, DjangoValidationError):
        raise NotFound("NodeRun not found.") from None
    port, items = first_output(payload_load(run.output))
    return pinned_put(user=user, workflow=workflow, node_id=node_id, items=items, port=port)


def execution_debug(
    *, user: Actor, execution: Execution, nodes: list[str] | None = None
) -> list[PinnedData]:
    """Copy what ``execution`` recorded for each node that succeeded (all, or ``nodes``)
    into its workflow's pinned data, so the editor opens on exactly what happened.

    Raises PermissionDenied (403) below the editor role, ``validation_error`` (400,
    ``nodes``) for a node with no succeeded run in it, and the errors of ``pinned_put``;
    all nodes are pinned or none.
    """
    require_writer(user=user, workspace_id=execution.workspace_id)
    runs = execution.node_runs.filter(status=NodeRunStatus.SUCCEEDED).order_by(
        "attempt", "sequence"
    )
    latest = {run.node_id: run for run in runs}  # the last attempt wins, and its last run
    wanted = list(latest) if nodes is None else nodes
    missing = [node_id for node_id in wanted if node_id not in latest]
    if missing:
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={"nodes": [f"No succeeded run of '{n}' in this execution." for n in missing]},
        )
    outputs = {node_id: first_output(payload_load(latest[node_id].output)) for node_id in wanted}
    return pinned_put_many(user=user, workflow=execution.workflow, outputs=outputs)
