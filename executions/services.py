"""Creating executions and running them: the engine's host.

An execution is created ``queued`` and its id is enqueued after commit. A worker must
claim it with a conditional UPDATE before running it, so a duplicated queue message, or
two workers racing, can never run it twice.
"""

import logging
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.limits import check_execution_allowed
from linkflow.accounts.models import User
from linkflow.accounts.selectors import require_writer
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.core.transactions import enqueue_on_commit
from linkflow.engine import Graph, run_graph
from workflows.models import Workflow

from .history import completed_outcomes, failed_attempts, recorded_count
from .host import run_context
from .models import Execution, ExecutionMode
from .recorder import ExecutionRecorder
from .runtime import LeaseLost, lease_claim

logger = logging.getLogger(__name__)


def execution_create(
    *,
    user: User | None,
    workflow: Workflow,
    trigger_input: dict[str, Any],
    mode: str,
    trigger_node_id: str = "",
    dedupe_key: str | None = None,
    dedupe_window: timedelta | None = None,
) -> Execution:
    """Queue an execution of the workflow's current version; the worker is told on commit.

    With ``dedupe_key``, a request repeating the key of an execution of this workflow gets
    that execution back (no plan check, nothing queued), also when two race; past
    ``dedupe_window`` (if given) the old execution gives the key up and a new one is made.

    Raises NotFound/PermissionDenied for a caller who may not run it,
    ``workflow_has_no_version`` (409) for a workflow without a graph, and
    ``plan_limit_exceeded`` (402) past the plan's monthly or concurrent executions.
    Only new runs asked for from outside (API, webhook) are checked here. Sub-workflow
    children are not: they belong to a run already admitted, and refusing one would fail
    it halfway. Cron fires, retries and re-runs are created elsewhere; all of them still
    count towards the month.
    """
    if user is not None:
        require_writer(user=user, workspace_id=workflow.workspace_id)
    if workflow.current_version_id is None:
        raise LinkflowError(
            ErrorCode.WORKFLOW_HAS_NO_VERSION, "This workflow has no graph yet.", status_code=409
        )
    if dedupe_key is not None:
        earlier = _deduplicated(workflow=workflow, key=dedupe_key, window=dedupe_window)
        if earlier is not None:
            return earlier
    check_execution_allowed(workspace_id=workflow.workspace_id)
    try:
        with transaction.atomic():
            execution = Execution.objects.create(
                workspace_id=workflow.workspace_id,
                workflow=workflow,
                version=workflow.current_version,
                mode=ExecutionMode(mode),
                trigger_input=trigger_input,
                trigger_node_id=trigger_node_id,
                queued_at=timezone.now(),
                created_by=user,
                dedupe_key=dedupe_key,
            )
            enqueue_execution(execution)
    except IntegrityError:
        if dedupe_key is None:
            raise
        # A concurrent request with the same key created it first: answer with that one.
        return Execution.objects.get(workflow=workflow, dedupe_key=dedupe_key)
    return execution


def _deduplicated(*, workflow: Workflow, key: str, window: timedelta | None) -> Execution | None:
    """The execution already holding ``key``, or None; one older than ``window`` gives the
    key up (a conditional update, so concurrent callers agree) and None is returned."""
    earlier = Execution.objects.filter(workflow=workflow, dedupe_key=key).first()
    if earlier is None or window is None or earlier.created_at > timezone.now() - window:
        return earlier
    Execution.objects.filter(pk=earlier.pk, dedupe_key=key).update(dedupe_key=None)
    return None


def enqueue_execution(execution: Execution) -> None:
    """Send the execution to the workers once the current transaction commits."""
    from .tasks import run_execution  # tasks import this module

    enqueue_on_commit(run_execution, str(execution.pk))


def execution_run(*, execution_id: str) -> str | None:
    """Claim the execution and run it to the end; return its final status.

    Returns None, doing nothing, when the execution is missing, already finished, or
    held by another live worker. Nodes already recorded as succeeded are not run again.
    Also None when the lease is lost halfway (another worker took the execution over):
    this run then stops at its next write or outside call, and writes nothing more.
    """
    claim = lease_claim(execution_id=execution_id)
    if claim is None:
        return None
    execution = Execution.objects.select_related("version").get(pk=execution_id)
    graph = Graph.from_dict(execution.version.graph)
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
            return recorder.finish(result)
    except LeaseLost:
        logger.warning("execution %s: lease lost to another worker; this run stops", execution_id)
        return None


def _caller_waits(execution: Execution, graph: Graph) -> bool:
    """True for a sync webhook execution: its caller blocks until the outcome is announced."""
    if execution.mode != ExecutionMode.WEBHOOK or not execution.trigger_node_id:
        return False
    return graph.node(execution.trigger_node_id).params.get("mode") == "sync"
