"""What a user does to an execution after starting it: cancel, retry, re-run from a node."""

from collections.abc import Callable

from django.utils import timezone

from linkflow.accounts.models import User
from linkflow.accounts.selectors import require_writer
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.engine import Graph

from . import events
from .creation import Admission, NewExecution, execution_admit
from .dispatch import DISPATCHED_STATUSES, dispatch_promote
from .models import FINISHED_STATUSES, Execution, ExecutionStatus, NodeRun, NodeRunStatus
from .payloads import payload_load, payload_store

_ACTIVE = (
    ExecutionStatus.PENDING,
    ExecutionStatus.QUEUED,
    ExecutionStatus.WAITING,
    ExecutionStatus.RUNNING,
)


def execution_cancel(*, user: User, execution: Execution) -> Execution:
    """Cancel a pending, queued, waiting or running execution.

    A running one stops before its next node (its worker checks every second); a waiting
    or pending one never runs again. A queued or running one frees its dispatch slot for
    the workspace's next pending execution. Raises ``execution_finished`` (409) when it
    already ended.
    """
    require_writer(user=user, workspace_id=execution.workspace_id)
    was = Execution.objects.filter(pk=execution.pk).values_list("status", flat=True).first()
    cancelled = Execution.objects.filter(pk=execution.pk, status__in=_ACTIVE).update(
        status=ExecutionStatus.CANCELLED,
        finished_at=timezone.now(),
        resume_at=None,
        error={"message": "cancelled", "by": str(user.pk)},
    )
    if not cancelled:
        raise _finished(execution)
    execution.refresh_from_db()
    # Only this call changed the status: the worker's own finish will find it taken.
    events.events_publish_on_commit([_cancelled_event(execution)])
    if was in DISPATCHED_STATUSES:
        dispatch_promote(workspace_id=execution.workspace_id)
    return execution


def _cancelled_event(execution: Execution) -> dict[str, object]:
    return events.event_build(
        type=events.EXECUTION_FINISHED,
        execution_id=execution.pk,
        workspace_id=execution.workspace_id,
        workflow_id=execution.workflow_id,
        status=execution.status,
        error=execution.error,
        finished_at=execution.finished_at.isoformat() if execution.finished_at else None,
    )


def execution_retry(*, user: User, execution: Execution) -> Execution:
    """A new execution of the same version with the same input, linked to this one."""
    require_writer(user=user, workspace_id=execution.workspace_id)
    _require_finished(execution)
    return _repeat(execution, user=user, rerun_from_node="")


def execution_rerun(*, user: User, execution: Execution, from_node: str) -> Execution:
    """A new execution where ``from_node`` and everything downstream of it run again and
    every other node reuses the output this execution recorded for it.

    Raises ``validation_error`` (400) for a node the pinned version does not have.
    """
    require_writer(user=user, workspace_id=execution.workspace_id)
    _require_finished(execution)
    graph = Graph.from_dict(execution.version.graph)
    if from_node not in {node.id for node in graph.nodes}:
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={
                "from_node": [f"Node '{from_node}' is not in version {execution.version.number}."]
            },
        )
    again = graph.downstream(from_node)

    def reuse(repeat: Execution) -> None:
        _copy_reused_runs(execution, repeat, skip=again)

    return _repeat(execution, user=user, rerun_from_node=from_node, prepare=reuse)


def _repeat(
    execution: Execution,
    *,
    user: User,
    rerun_from_node: str,
    prepare: Callable[[Execution], None] | None = None,
) -> Execution:
    # A repeat is new work asked for from outside: quota and dispatch slots like any other.
    new = NewExecution(
        workspace_id=execution.workspace_id,
        workflow_id=execution.workflow_id,
        version_id=execution.version_id,
        mode=execution.mode,
        trigger_input=execution.trigger_input,
        # A repeated sub-workflow redacts what its caller handed down, like the first run.
        inherited_secrets=execution.inherited_secrets,
        trigger_node_id=execution.trigger_node_id,
        source=execution,
        rerun_from_node=rerun_from_node,
        created_by=user,
    )
    return execution_admit(new=new, admission=Admission.EXTERNAL, prepare=prepare)


def _copy_reused_runs(execution: Execution, repeat: Execution, *, skip: set[str]) -> None:
    decided = execution.node_runs.filter(
        status__in=(NodeRunStatus.SUCCEEDED, NodeRunStatus.SKIPPED)
    ).exclude(node_id__in=skip)
    target = str(repeat.pk)

    def copied(run: NodeRun, kind: str, value: object) -> object:
        # Stored payloads are copied too: the repeat must outlive its source's cleanup.
        name = (
            f"{run.node_id}-{run.iteration}-1-{kind}"
            if run.iteration
            else f"{run.node_id}-1-{kind}"
        )
        return payload_store(execution_id=target, name=name, data=payload_load(value))

    NodeRun.objects.bulk_create(
        NodeRun(
            execution=repeat,
            node_id=run.node_id,
            node_type=run.node_type,
            status=run.status,
            attempt=1,
            iteration=run.iteration,
            sequence=index,
            input=copied(run, "input", run.input),
            output=copied(run, "output", run.output),
            started_at=run.started_at,
            finished_at=run.finished_at,
        )
        for index, run in enumerate(decided.order_by("sequence"), start=1)
    )


def _require_finished(execution: Execution) -> None:
    if execution.status not in FINISHED_STATUSES:
        raise LinkflowError(
            ErrorCode.CONFLICT,
            "Only a finished execution can be retried or re-run.",
            details={"status": execution.status},
            status_code=409,
        )


def _finished(execution: Execution) -> LinkflowError:
    current = Execution.objects.filter(pk=execution.pk).values_list("status", flat=True).first()
    return LinkflowError(
        ErrorCode.EXECUTION_FINISHED,
        "This execution has already finished.",
        details={"status": current},
        status_code=409,
    )
