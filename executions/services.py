"""Starting executions and running them: the engine's host.

An execution is created through creation.py (``pending`` or ``queued``, its id sent to the
broker after commit once dispatched). A worker must claim it with a conditional UPDATE
before running it, so a duplicated queue message, or two workers racing, can never run it
twice. When a run ends or parks, its slot goes to the workspace's next pending execution.
"""

import logging
from datetime import timedelta
from typing import Any

from executions.models import Execution, ExecutionMode, ExecutionStatus
from executions.running.graphs import version_graph
from executions.running.history import completed_outcomes, failed_attempts, recorded_count
from executions.running.host import run_context
from executions.running.lease import LeaseLost, lease_claim
from executions.running.recorder import ExecutionRecorder
from executions.running.shutdown import shutdown_requested
from executions.starting.creation import Admission, Dedupe, NewExecution, execution_admit
from executions.starting.dispatch import dispatch_promote, enqueue_execution
from linkflow.accounts.caller import Actor, user_of
from linkflow.accounts.selectors import require_writer
from linkflow.core.errors import LinkflowError
from linkflow.engine import Graph, run_graph
from workflows.error_codes import WorkflowErrorCode
from workflows.models import Workflow
from workflows.references import references_check

logger = logging.getLogger(__name__)


def execution_create(
    *,
    user: Actor | None,
    workflow: Workflow,
    trigger_input: dict[str, Any],
    mode: str,
    trigger_node_id: str = "",
    dedupe_key: str | None = None,
    dedupe_window: timedelta | None = None,
    dedupe_fingerprint: str = "",
) -> Execution:
    """Start the workflow's current version from outside (API, webhook, editor): an
    execution admitted as EXTERNAL (see creation.py), queued at once when its workspace
    has a free dispatch slot and pending until one frees otherwise.

    With ``dedupe_key``, a request repeating the key of an execution of this workflow gets
    that execution back (no plan check, nothing queued), also when two race; past
    ``dedupe_window`` (if given) the old execution gives the key up and a new one is made.
    A repeat whose ``dedupe_fingerprint`` (the request's hash, idempotency.py) differs
    from the first one's raises ``idempotency_key_reused`` (422), creating nothing.

    Raises NotFound/PermissionDenied for a caller who may not run it,
    ``workflow_has_no_version`` (409) for a workflow without a graph, for a person's
    run ``workflow_graph_invalid`` (400) when a credential or workflow the graph names is
    missing or unusable (workflows/references.py), and
    ``plan_limit_exceeded`` (402) past the plan's monthly executions. The plan's
    concurrent executions never refuse: past them the execution waits its turn.
    """
    if user is not None:
        require_writer(user=user, workspace_id=workflow.workspace_id)
    if workflow.current_version_id is None:
        raise _no_version()
    if user is not None:  # triggers fire only active workflows, checked on activation
        version = workflow.current_version
        if version is None:  # only the id was checked: a trigger never loads the row
            raise _no_version()
        references_check(workspace_id=workflow.workspace_id, graph=version.graph, ready=True)
    new = NewExecution(
        workspace_id=workflow.workspace_id,
        workflow_id=workflow.pk,
        version_id=workflow.current_version_id,
        mode=ExecutionMode(mode),
        trigger_input=trigger_input,
        trigger_node_id=trigger_node_id,
        created_by=user_of(user),
    )
    dedupe = (
        Dedupe(key=dedupe_key, window=dedupe_window, fingerprint=dedupe_fingerprint)
        if dedupe_key is not None
        else None
    )
    return execution_admit(new=new, admission=Admission.EXTERNAL, dedupe=dedupe)


def _no_version() -> LinkflowError:
    return LinkflowError(
        WorkflowErrorCode.WORKFLOW_HAS_NO_VERSION,
        "This workflow has no graph yet.",
        status_code=409,
    )


def execution_run(*, execution_id: str) -> str | None:
    """Claim the execution and run it to the end; return its final status.

    Returns None, doing nothing, when the execution is missing, already finished, or
    held by another live worker. Nodes already recorded as succeeded are not run again.
    Also None when the lease is lost halfway (another worker took the execution over):
    this run then stops at its next write or outside call, and writes nothing more.
    In a stopping worker the run ends before its next node and the execution goes back
    to the broker (``queued``), or the message goes back unclaimed (shutdown.py).
    """
    if shutdown_requested():
        # This worker is stopping: the message goes back, unclaimed, for another one.
        enqueue_execution(execution_id=execution_id)
        return None
    claim = lease_claim(execution_id=execution_id)
    if claim is None:
        return None
    execution = claim.execution or Execution.objects.get(pk=execution_id)
    graph = version_graph(version_id=execution.version_id)
    if claim.fresh:  # the common case: nothing recorded yet, nothing to read back
        completed, attempts, sequence = {}, {}, 0
    else:
        completed = completed_outcomes(execution)
        attempts = failed_attempts(execution)
        sequence = recorded_count(execution)
    recorder = ExecutionRecorder(
        execution=execution,
        lease=claim,
        sequence=sequence,
        announce=_caller_waits(execution, graph),
    )
    # Held until the end: its credential resolver tells the recorder which secrets to
    # redact, and it unregisters them when it is garbage-collected.
    context = run_context(execution)
    try:
        with recorder:
            result = run_graph(
                graph, context=context, observer=recorder, completed=completed, attempts=attempts
            )
            if result.status == ExecutionStatus.CANCELLED and shutdown_requested():
                status = ExecutionStatus.QUEUED if recorder.hand_back() else result.status
                # Not handed back: cancelled meanwhile, its slot is free.
                dispatch_promote(workspace_id=execution.workspace_id)
            else:
                status = recorder.finish(result)
    except LeaseLost:
        logger.warning("execution %s: lease lost to another worker; this run stops", execution_id)
        return None
    # A finished or parked run's slot went to the next pending execution in its final
    # commit (recorder.finish).
    return status


def _caller_waits(execution: Execution, graph: Graph) -> bool:
    """True for a sync webhook execution: its caller blocks until the outcome is announced."""
    if execution.mode != ExecutionMode.WEBHOOK or not execution.trigger_node_id:
        return False
    return graph.node(execution.trigger_node_id).params.get("mode") == "sync"
