"""workflow.execute on the host side: running another workflow of the same workspace."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from credentials.handoff import secrets_seal
from credentials.redaction import execution_secrets, redact
from executions.models import Execution, ExecutionMode, ExecutionStatus, NodeRun, NodeRunStatus
from executions.running.files import files_carried
from executions.running.payloads import payload_load
from executions.starting.creation import Admission, Dedupe, NewExecution, execution_admit
from linkflow.engine import NodeError, Suspend
from linkflow.engine.nodes.trigger import ITEMS_KEY
from workflows.models import Workflow

Items = list[dict[str, Any]]
# How long a caller parks when its child is being run by another worker.
_RECHECK = timedelta(seconds=2)
# What runs a waiting child inline: services.py's execution_run, registered from apps.py.
# Not imported: running an execution builds its host (host.py), which builds this module's
# SubworkflowHost, so an import back would close a loop.
_child_runner: dict[str, Callable[..., object]] = {}


def child_runner_register(*, run: Callable[..., object]) -> None:
    """Name the function that runs an execution to its end by id (``execution_id=``)."""
    _child_runner["run"] = run


class SubworkflowHost:
    """The engine's SubworkflowRunner for one parent execution.

    The child gets the items as its trigger input (``{"$items": [...]}``, which its
    trigger emits one item each, for a caller of version 3; ``{"items": [...]}``, one
    item, for older ones), with the secrets the
    parent's nodes were given redacted (a stored input is readable by every member), and
    those secrets, encrypted, so that it redacts them too from whatever it stores and
    emits, whichever worker runs it (see credentials/handoff.py). Waiting calls run the child
    inline in the same worker (no second queue hop, no worker blocked on another); a
    repeated call with the same key finds the same child, so a resumed parent never
    starts a second one.
    """

    def __init__(self, *, parent: Execution) -> None:
        self.parent = parent

    def run(
        self, *, workflow_id: str, items: Items, wait: bool, key: str, as_items: bool = False
    ) -> Items:
        handed = {ITEMS_KEY if as_items else "items": items}
        child = self._child(workflow_id=workflow_id, handed=handed, key=key, wait=wait)
        if not wait:
            return [{"execution_id": str(child.pk), "status": child.status}]
        if child.status == ExecutionStatus.QUEUED:
            _child_runner["run"](execution_id=str(child.pk))
            child.refresh_from_db()
        return _result_of(child)

    def _child(
        self, *, workflow_id: str, handed: dict[str, Items], key: str, wait: bool
    ) -> Execution:
        depth = self.parent.depth + 1
        if depth > settings.LINKFLOW_SUBWORKFLOW_MAX_DEPTH:
            limit = settings.LINKFLOW_SUBWORKFLOW_MAX_DEPTH
            raise NodeError(f"Sub-workflows nest at most {limit} deep.", param="params.workflow")
        workflow = self._workflow(workflow_id)
        secrets = execution_secrets(self.parent.pk)
        new = NewExecution(
            workspace_id=workflow.workspace_id,
            workflow_id=workflow.pk,
            version_id=workflow.current_version_id,
            mode=ExecutionMode.SUBWORKFLOW,
            trigger_input=redact(handed, secrets),
            inherited_secrets=secrets_seal(secrets=secrets),
            parent=self.parent,
            depth=depth,
        )
        # A waiting child is run inline below; a fire-and-forget one goes to the broker.
        # Either way it is its parent's work, already admitted (see creation.py).
        admission = Admission.CHILD_INLINE if wait else Admission.CHILD
        return execution_admit(
            new=new,
            admission=admission,
            dedupe=Dedupe(key=f"sub:{key}"),
            prepare=self._files_copied,
        )

    def _files_copied(self, child: Execution) -> None:
        # A file reference is trusted only in its own execution: the child gets copies of
        # its caller's files in its own name, which live and expire with the child.
        carried = files_carried(
            child.trigger_input,
            source_execution_id=str(self.parent.pk),
            target_execution_id=str(child.pk),
        )
        if carried != child.trigger_input:
            child.trigger_input = carried
            child.save(update_fields=["trigger_input"])

    def _workflow(self, workflow_id: str) -> Workflow:
        pk = _uuid_or_none(workflow_id)
        scoped = Workflow.objects.filter(workspace_id=self.parent.workspace_id)
        workflow = scoped.filter(pk=pk).first() if pk else None
        if workflow is None or workflow.current_version_id is None:
            raise NodeError(
                f"Workflow '{workflow_id}' was not found in this workspace.",
                param="params.workflow",
            )
        return workflow


def _result_of(child: Execution) -> Items:
    if child.status == ExecutionStatus.SUCCEEDED:
        return _last_items(child)
    if child.status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED):
        message = (child.error or {}).get("message", child.status)
        raise NodeError(f"The sub-workflow {child.status}: {message}")
    # Running elsewhere or parked: look again a little later, without holding this worker.
    raise Suspend(timezone.now() + _RECHECK)


def _last_items(child: Execution) -> Items:
    runs = NodeRun.objects.filter(execution=child, status=NodeRunStatus.SUCCEEDED).order_by(
        "-sequence"
    )
    for stored in runs.values_list("output", flat=True):
        output = payload_load(stored)  # a large output sits in a payload file
        items: list[Any] = output.get("main") or next((v for v in output.values() if v), [])
        if items:
            return list(items)
    return []


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None
