"""Executions of workflows and the record of every node attempt.

On PostgreSQL, executions and NodeRuns are partitioned by month (see partitions.py): the
database's primary keys are (id, created_at) and (id, execution_created_at), while Django
keeps ``id`` as the pk. PostgreSQL cannot point a foreign key at a partitioned table
without the partition key, so every ForeignKey to Execution is ``db_constraint=False``:
the services and the cleanup (which deletes or unlinks children) keep them consistent. A
new model pointing at Execution must do the same (the cleanup applies its on_delete when
a month is dropped). The (workflow, dedupe_key) uniqueness lives in a small side table
kept by triggers there; SQLite keeps plain tables and the constraints below.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models

from linkflow.accounts.models import Workspace
from linkflow.core.models import BaseModel
from workflows.models import Workflow, WorkflowVersion


class ExecutionStatus(models.TextChoices):
    # Admitted, waiting for one of its workspace's dispatch slots (executions/starting/dispatch.py).
    PENDING = "pending", "Pending"
    # Dispatched: its message is in the broker, a worker will claim it.
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = frozenset(
    {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)


class ExecutionMode(models.TextChoices):
    MANUAL = "manual", "Manual"
    API = "api", "API"
    WEBHOOK = "webhook", "Webhook"
    SCHEDULE = "schedule", "Schedule"
    SUBWORKFLOW = "subworkflow", "Sub-workflow"
    # Started because another execution failed (error workflows): never hands off again.
    ERROR = "error", "Error workflow"
    # From the editor's build-test loop (executions/sources/test_runs.py): own limits, no quota.
    TEST = "test", "Test"
    # A message of a listening trigger (trigger.redis, .amqp, .mqtt, .nats).
    EVENT = "event", "Event"


class Execution(BaseModel):
    # Denormalised from the workflow so tenant scoping never needs a join. Neither gets an
    # index of its own: the list indexes below lead with them (one index less per insert).
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    workflow = models.ForeignKey(
        Workflow, on_delete=models.CASCADE, related_name="executions", db_index=False
    )
    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.QUEUED
    )
    mode = models.CharField(max_length=16, choices=ExecutionMode.choices)
    trigger_input = models.JSONField(default=dict, blank=True)
    error = models.JSONField(null=True, blank=True)
    queued_at = models.DateTimeField()
    # When it last left ``pending`` for the broker: recovery measures a lost message from here.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Times a worker took the execution over from one whose lease ran out (it died,
    # was killed by a limit, or stalled); bounded by LINKFLOW_MAX_LOST_LEASES.
    lost_leases = models.PositiveSmallIntegerField(default=0)
    # The trigger node that fired (webhook, schedule); empty means every trigger emits.
    trigger_node_id = models.CharField(max_length=64, blank=True)
    # Parked (flow.wait, retry back-off) until this time; a beat task re-queues it then.
    resume_at = models.DateTimeField(null=True, blank=True)
    # A retry or re-run points at the execution it repeats; a re-run reuses the recorded
    # outputs of the nodes upstream of rerun_from_node (copied as its first NodeRuns).
    source = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="repeats",
        db_constraint=False,
    )
    rerun_from_node = models.CharField(max_length=64, blank=True)
    # The call that resumed a flow.wait waiting for one ({"node_id", "body"?, "decision"?},
    # written by waits.py with the wake-up); the resumed node reads it.
    resume_call = models.JSONField(null=True, blank=True)
    # A sub-workflow's caller, and how deep the call chain is (bounded).
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        db_constraint=False,
    )
    depth = models.PositiveSmallIntegerField(default=0)
    # The secret values in the input a caller handed down (sub-workflows), encrypted like
    # credentials: the child redacts them too, on whichever worker runs it. Never shown.
    inherited_secrets = models.TextField(blank=True, default="")
    # Makes a repeated request (idempotency key, sub-workflow call, cron slot) one execution.
    # NULL, not "", when unused: the unique constraint must not see blanks as equal.
    # (On PostgreSQL the constraint is enforced through the executions_dedupe side table.)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # The hash of the request that took the key (executions/starting/idempotency.py): the same key
    # with another body is refused. Empty when the path has no request body to compare.
    dedupe_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            # The list API's filters, each in the list's order (newest first, id breaking
            # ties) so a page, however deep its cursor, reads only its own rows (see
            # docs/architecture.md, "Listing executions at scale").
            models.Index(fields=["workspace", "-created_at", "-id"], name="execution_ws_created"),
            models.Index(fields=["workflow", "-created_at", "-id"], name="execution_wf_created"),
            models.Index(
                fields=["workspace", "status", "-created_at", "-id"],
                name="execution_ws_status_created",
            ),
            # A time-range filter (started_after/before): the creation span of the range's
            # rows, read from the index alone (selectors._within_created_span).
            models.Index(
                fields=["workspace", "started_at"],
                include=["created_at"],
                condition=models.Q(started_at__isnull=False),
                name="execution_ws_started",
            ),
            models.Index(fields=["status", "lease_expires_at"], name="execution_status_lease"),
            models.Index(fields=["status", "resume_at"], name="execution_status_resume"),
            # The dispatcher's "next pending of this workspace" and its slot count.
            models.Index(
                fields=["workspace", "status", "queued_at"], name="execution_ws_status_queued"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "dedupe_key"], name="execution_dedupe_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} {self.status} {self.id}"


class NodeRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class ExecutionCreatedAtField(models.DateTimeField):  # type: ignore[type-arg]
    """A NodeRun's copy of its execution's ``created_at``, filled on insert when unset.

    It is the NodeRun partition key, so an execution's NodeRuns share its month and go
    with it when the month is dropped. Filled in pre_save (which bulk_create calls too)
    from the related execution, so every writer gets it right without knowing about it.
    """

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value: datetime | None = getattr(model_instance, self.attname)
        if value is None and add and isinstance(model_instance, NodeRun):
            value = model_instance.execution.created_at
            setattr(model_instance, self.attname, value)
        return value


class NodeRun(BaseModel):
    """One attempt of one node. A succeeded NodeRun is never run again."""

    execution = models.ForeignKey(
        Execution, on_delete=models.CASCADE, related_name="node_runs", db_constraint=False
    )
    # The partition key on PostgreSQL; always equal to execution.created_at.
    execution_created_at = ExecutionCreatedAtField(editable=False)
    node_id = models.CharField(max_length=64)
    node_type = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=NodeRunStatus.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    # The batch of a loop (flow.batch) this run was in, or the page of a node following
    # pages: 1, 2, ...; 0 for a node run outside any loop (engine/loops.py).
    iteration = models.PositiveIntegerField(
        default=0, help_text="The loop batch or the page this run was (1, 2, ...); 0 outside loops."
    )
    # Position in the order the runner decided the nodes; orders the record and, later, events.
    sequence = models.PositiveIntegerField(default=0)
    input = models.JSONField(default=list, blank=True)
    output = models.JSONField(default=dict, blank=True)
    error = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A waiting node (flow.wait) resumes at this time.
    resume_at = models.DateTimeField(null=True, blank=True)
    # How the input items fared (engine items.ItemRecord.as_meta): counts, the lineage of
    # the output items, the input indexes done so far (a retry or a resumed run goes on
    # from them), and why the node was skipped ("disabled").
    item_meta = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("execution", "sequence")
        constraints = [
            # execution_created_at follows from execution, so this is "one row per
            # attempt of a node in an iteration"; PostgreSQL needs the partition key in
            # every unique constraint.
            models.UniqueConstraint(
                fields=["execution", "node_id", "iteration", "attempt", "execution_created_at"],
                name="noderun_unique_attempt",
            )
        ]

    def __str__(self) -> str:
        turn = f" [{self.iteration}]" if self.iteration else ""
        return f"{self.node_id}{turn} #{self.attempt} {self.status}"


class DeadLetterStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    REPLAYED = "replayed", "Replayed"
    DISCARDED = "discarded", "Discarded"


class DeadLetter(BaseModel):
    """A task that failed for good (past its retries) or a message no worker could handle.

    Kept for an operator to inspect, then replay (send again) or discard. Repeated failures
    of the same task with the same arguments update one pending row (see dead_letters.py).
    """

    # NULL for platform-level jobs (beat maintenance) that belong to no workspace.
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    execution = models.ForeignKey(
        Execution,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=255, blank=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    # sha256 of task name and arguments: what makes two failures "the same job".
    fingerprint = models.CharField(max_length=64)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=DeadLetterStatus.choices, default=DeadLetterStatus.PENDING
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-last_failed_at",)
        indexes = [
            models.Index(fields=["workspace", "status"], name="deadletter_ws_status"),
            models.Index(fields=["status", "-last_failed_at"], name="deadletter_status_last"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=models.Q(status="pending"),
                name="deadletter_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.status} {self.id}"
