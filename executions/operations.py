"""What a user does to an execution after starting it: cancel, retry, re-run from a node."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.utils import timezone

from executions.error_codes import ExecutionErrorCode
from executions.feeds import publisher, vocabulary
from executions.models import FINISHED_STATUSES, Execution, ExecutionStatus, NodeRun, NodeRunStatus
from executions.running.files import files_carried
from executions.running.payloads import payload_load, payload_store
from executions.starting.creation import Admission, NewExecution, execution_admit
from executions.starting.dispatch import DISPATCHED_STATUSES, dispatch_promote
from linkflow.accounts.caller import Actor, user_of
from linkflow.accounts.models import User
from linkflow.accounts.selectors import require_writer
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.engine import Graph
from linkflow.engine.reruns import rerun_plan
from workflows.error_codes import WorkflowErrorCode
from workflows.models import WorkflowVersion

# A recorded run whose output a re-run may reuse.
_REUSABLE = (NodeRunStatus.SUCCEEDED, NodeRunStatus.SKIPPED)
_ACTIVE = (
    ExecutionStatus.PENDING,
    ExecutionStatus.QUEUED,
    ExecutionStatus.WAITING,
    ExecutionStatus.RUNNING,
)


def execution_cancel(*, user: Actor, execution: Execution) -> Execution:
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
        error={"message": "cancelled", "by": str(user_of(user).pk)},
    )
    if not cancelled:
        raise _finished(execution)
    execution.refresh_from_db()
    # Only this call changed the status: the worker's own finish will find it taken.
    publisher.events_publish_on_commit([_cancelled_event(execution)])
    if was in DISPATCHED_STATUSES:
        dispatch_promote(workspace_id=execution.workspace_id)
    return execution


def _cancelled_event(execution: Execution) -> dict[str, object]:
    return vocabulary.event_build(
        type=vocabulary.EXECUTION_FINISHED,
        execution_id=execution.pk,
        workspace_id=execution.workspace_id,
        workflow_id=execution.workflow_id,
        status=execution.status,
        error=execution.error,
        finished_at=execution.finished_at.isoformat() if execution.finished_at else None,
    )


class RepeatVersion(StrEnum):
    """Which version a retry or re-run runs: the one the execution ran, or the workflow's
    current one (after a fix)."""

    ORIGINAL = "original"
    CURRENT = "current"


@dataclass(frozen=True)
class Repeat:
    """A retry or re-run as admitted: the new execution, and which nodes of the version it
    runs keep their recorded output (``reused_nodes``) or run (``run_nodes``), in order."""

    execution: Execution
    reused_nodes: tuple[str, ...]
    run_nodes: tuple[str, ...]


def execution_retry(
    *, user: Actor, execution: Execution, version: str = RepeatVersion.ORIGINAL
) -> Repeat:
    """A new execution with the same input, linked to this one, of the version it ran
    (``original``) or of the workflow's current version (``current``); every node runs.

    Raises ``conflict`` (409) for an unfinished execution, ``workflow_has_no_version``
    (409), and ``validation_error`` (400, on ``version``) when the current version lacks
    the trigger this execution started from.
    """
    require_writer(user=user, workspace_id=execution.workspace_id)
    _require_finished(execution)
    target = _target_version(execution, version)
    graph = _graph(target)
    plan = rerun_plan(recorded=graph, target=graph, from_node=None, reusable=())
    repeat = _repeat(execution, user=user_of(user), version=target, rerun_from_node="")
    return Repeat(execution=repeat, reused_nodes=plan.reused, run_nodes=plan.runs)


def execution_rerun(
    *, user: Actor, execution: Execution, from_node: str, version: str = RepeatVersion.ORIGINAL
) -> Repeat:
    """A new execution of the chosen version (see ``execution_retry``) where ``from_node``
    and everything downstream of it run again, and every other node reuses the output this
    execution recorded for it where the node computes the same in that version
    (linkflow/engine/reruns.py); a node that does not, and its downstream, run again.

    Raises ``validation_error`` (400) for a node the version run does not have, and what
    ``execution_retry`` raises.
    """
    require_writer(user=user, workspace_id=execution.workspace_id)
    _require_finished(execution)
    target = _target_version(execution, version)
    graph = _graph(target)
    if from_node not in {node.id for node in graph.nodes}:
        raise _invalid("from_node", f"Node '{from_node}' is not in version {target.number}.")
    decided = execution.node_runs.filter(status__in=_REUSABLE).values_list("node_id", flat=True)
    plan = rerun_plan(
        recorded=_graph(execution.version), target=graph, from_node=from_node, reusable=decided
    )

    def reuse(repeat: Execution) -> None:
        _copy_reused_runs(execution, repeat, nodes=plan.reused)

    repeat = _repeat(
        execution, user=user_of(user), version=target, rerun_from_node=from_node, prepare=reuse
    )
    return Repeat(execution=repeat, reused_nodes=plan.reused, run_nodes=plan.runs)


def _target_version(execution: Execution, version: str) -> WorkflowVersion:
    if version == RepeatVersion.ORIGINAL:
        return execution.version
    if version != RepeatVersion.CURRENT:
        raise _invalid("version", "Use 'original' or 'current'.")
    current = execution.workflow.current_version
    if current is None:
        raise LinkflowError(
            WorkflowErrorCode.WORKFLOW_HAS_NO_VERSION,
            "This workflow has no graph yet.",
            status_code=409,
        )
    trigger = execution.trigger_node_id
    if trigger and Graph.from_dict(current.graph).find(trigger) is None:
        # Its trigger item would reach no node: the run would do nothing, or fail.
        raise _invalid(
            "version",
            f"Version {current.number} has no node '{trigger}', the trigger this "
            "execution started from.",
        )
    return current


def _graph(version: WorkflowVersion) -> Graph:
    return Graph.from_dict(version.graph)


def _invalid(field: str, problem: str) -> LinkflowError:
    return LinkflowError(
        ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", details={field: [problem]}
    )


def _repeat(
    execution: Execution,
    *,
    user: User,
    version: WorkflowVersion,
    rerun_from_node: str,
    prepare: Callable[[Execution], None] | None = None,
) -> Execution:
    # A repeat is new work asked for from outside: quota and dispatch slots like any other.
    new = NewExecution(
        workspace_id=execution.workspace_id,
        workflow_id=execution.workflow_id,
        version_id=version.pk,
        mode=execution.mode,
        trigger_input=execution.trigger_input,
        # A repeated sub-workflow redacts what its caller handed down, like the first run.
        inherited_secrets=execution.inherited_secrets,
        trigger_node_id=execution.trigger_node_id,
        source=execution,
        rerun_from_node=rerun_from_node,
        created_by=user,
    )

    def prepared(repeat: Execution) -> None:
        _trigger_files_carried(execution, repeat)
        if prepare is not None:
            prepare(repeat)

    return execution_admit(new=new, admission=Admission.EXTERNAL, prepare=prepared)


def _trigger_files_carried(execution: Execution, repeat: Execution) -> None:
    # A sub-workflow's input holds files in its own name; the repeat gets its own copies.
    carried = files_carried(
        repeat.trigger_input,
        source_execution_id=str(execution.pk),
        target_execution_id=str(repeat.pk),
    )
    if carried is not repeat.trigger_input:
        repeat.trigger_input = carried
        repeat.save(update_fields=["trigger_input"])


def _copy_reused_runs(execution: Execution, repeat: Execution, *, nodes: Iterable[str]) -> None:
    decided = execution.node_runs.filter(status__in=_REUSABLE, node_id__in=list(nodes))
    target = str(repeat.pk)
    source = str(execution.pk)

    def copied(run: NodeRun, kind: str, value: object) -> object:
        # Stored payloads are copied too: the repeat must outlive its source's cleanup.
        name = (
            f"{run.node_id}-{run.iteration}-1-{kind}"
            if run.iteration
            else f"{run.node_id}-1-{kind}"
        )
        # So are its files: the repeat reads only files in its own name (files.py).
        data = files_carried(
            payload_load(value), source_execution_id=str(execution.pk), target_execution_id=target
        )
        return payload_store(execution_id=target, name=name, data=data)

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
            # The lineage comes along (paired items downstream read it), and where from.
            item_meta={**(run.item_meta or {}), "reused_from": source},
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
        ExecutionErrorCode.EXECUTION_FINISHED,
        "This execution has already finished.",
        details={"status": current},
        status_code=409,
    )
