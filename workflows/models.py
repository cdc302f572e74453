"""Workflows, their immutable, numbered versions, and the webhook URLs of their triggers."""

import secrets

from django.conf import settings
from django.db import models

from linkflow.accounts.models import Workspace
from linkflow.core.models import BaseModel

# The workflow settings of its save policy, as the API names them.
SAVE_POLICY_FIELDS = ("save_succeeded", "save_failed", "save_manual", "save_node_data")
# Every on/off setting the API reads and writes by name: the save policy and the switch
# that shows webhook callers the details of a failure (workflows/webhook_failures.py).
SWITCH_SETTING_FIELDS = (*SAVE_POLICY_FIELDS, "webhook_error_details")


class Workflow(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=False)
    # Where the editor draws each node, {node_id: {"x": .., "y": ..}}, saved as the user
    # drags. Kept beside the versions, not in them: moving a node makes no new version.
    layout = models.JSONField(default=dict, blank=True)
    # What the workflow keeps of its finished executions (n8n's save policy); the cleanup
    # job removes the rest shortly after they finish (executions/maintenance/cleanup.py).
    save_succeeded = models.BooleanField(
        default=True, help_text="Keep executions that succeeded (manual ones: see save_manual)."
    )
    save_failed = models.BooleanField(
        default=True, help_text="Keep executions that failed or were cancelled."
    )
    save_manual = models.BooleanField(
        default=True,
        help_text="Keep manual executions (run from the editor), whatever the outcome.",
    )
    save_node_data = models.BooleanField(
        default=True,
        help_text="Keep node inputs and outputs and the trigger input of kept executions "
        "(off: only statuses, timings and errors stay).",
    )
    # Off: a failed call to one of its webhooks answers a generic error and a reference id;
    # on (to debug an integration), the details too. The anonymous caller is not trusted.
    webhook_error_details = models.BooleanField(
        default=False,
        help_text="Show webhook callers the details of a failure (execution and node ids, "
        "errors, auth reasons) instead of only a reference id.",
    )
    current_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Run with a trigger.error item when one of this workflow's executions fails for good
    # (executions/starting/error_workflows.py); another workflow of the same workspace, or itself.
    error_workflow = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The last time a trigger nobody answers (a cron fire) was refused by the plan, and
    # why: {"at", "node_id", "slot", "code", "message", "details"} (workflows/refusals.py).
    last_refusal = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["workspace", "-created_at"], name="workflow_ws_created")]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(BaseModel):
    """A snapshot of a workflow's graph. Never edited: a graph change makes a new one.

    A ``test`` snapshot is the unsaved graph a test run ran (executions/sources/test_runs.py): it
    is numbered 0, never listed, diffed or restored, and goes with its executions.
    """

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField()
    test = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ("workflow", "-number")
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "number"],
                condition=models.Q(test=False),
                name="workflow_version_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"


class PinnedData(BaseModel):
    """Output items a node gives in test runs instead of running (n8n's pinned data).

    Kept per workflow and node beside the versions: pinning makes no new version, and a
    pin outlives graph edits of its node. Production executions never read it.
    """

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="pinned")
    node_id = models.CharField(max_length=64)
    # The output port the items come out of ("main" for most nodes; "true" for flow.if...).
    port = models.CharField(max_length=64, default="main")
    items = models.JSONField(default=list)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ("workflow", "node_id")
        constraints = [
            models.UniqueConstraint(fields=["workflow", "node_id"], name="pinned_node_unique")
        ]

    def __str__(self) -> str:
        return f"{self.workflow} / {self.node_id} (pinned)"


class WebhookMode(models.TextChoices):
    ASYNC = "async", "Answer 202 at once"
    SYNC = "sync", "Wait for the execution and answer its result"


class WebhookAuth(models.TextChoices):
    NONE = "none", "None"
    HEADER = "header", "Header token"
    HMAC = "hmac", "HMAC-SHA256 signature"


WEBHOOK_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def webhook_token_new() -> str:
    """An unguessable URL token (192 random bits): knowing it is what lets a caller in."""
    return secrets.token_urlsafe(24)


class WebhookTrigger(BaseModel):
    """The URL of one `trigger.webhook` node of a workflow's current graph.

    Rows mirror the graph and are written only by ``workflows.webhook_rows.webhook_triggers_sync``
    when a version is saved; the node's settings are copied here so answering a request
    never has to read the graph. The token survives edits of the same node id.
    """

    # Denormalised from the workflow: readable paths are unique per workspace.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey(
        Workflow, on_delete=models.CASCADE, related_name="webhook_triggers"
    )
    node_id = models.CharField(max_length=64)
    token = models.CharField(max_length=64, unique=True, default=webhook_token_new, editable=False)
    # Empty when the node has no readable path; then only the token URL answers.
    path = models.CharField(max_length=100, blank=True)
    method = models.CharField(
        max_length=8, choices=[(m, m) for m in WEBHOOK_METHODS], default="POST"
    )
    mode = models.CharField(max_length=8, choices=WebhookMode.choices, default=WebhookMode.ASYNC)
    auth = models.CharField(max_length=8, choices=WebhookAuth.choices, default=WebhookAuth.NONE)
    credential_id = models.CharField(max_length=200, blank=True)
    timeout_seconds = models.FloatField(default=30)
    # A disabled node keeps its row (and so its token) but does not answer.
    disabled = models.BooleanField(default=False)

    class Meta:
        ordering = ("workflow", "node_id")
        constraints = [
            models.UniqueConstraint(fields=["workflow", "node_id"], name="webhook_node_unique"),
            models.UniqueConstraint(
                fields=["workspace", "path"],
                condition=~models.Q(path=""),
                name="webhook_path_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} / {self.node_id}"


class PollState(BaseModel):
    """One `trigger.poll` node's polling record: how many polls it made. Its row is also
    the lock that keeps two polls of the node from deciding "new" at the same time."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="+")
    node_id = models.CharField(max_length=64)
    polls = models.PositiveIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "node_id"], name="pollstate_node_unique")
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} / {self.node_id}"


class PollSeenKey(BaseModel):
    """A key a `trigger.poll` node has seen (sha256 of the user's key), bounded per node by
    LINKFLOW_POLL_SEEN_LIMIT: the least recently seen go first."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="+")
    node_id = models.CharField(max_length=64)
    key_hash = models.CharField(max_length=64)
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "node_id", "key_hash"], name="pollseen_key_unique"
            )
        ]
        indexes = [
            models.Index(fields=["workflow", "node_id", "-last_seen_at"], name="pollseen_recent")
        ]

    def __str__(self) -> str:
        return self.key_hash


class ListenerTrigger(BaseModel):
    """A listening trigger node (trigger.redis, .amqp, .mqtt, .nats) of an ACTIVE
    workflow's current graph, written by ``listener_triggers_sync``: the listener process
    (executions/sources/listeners.py) holds one subscription per row, and drops it when the row
    goes or changes."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="+")
    node_id = models.CharField(max_length=64)
    node_type = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    credential_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "node_id"], name="listener_node_unique")
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} / {self.node_id}"
