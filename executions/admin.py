"""Operator console pages for executions, their node runs and dead letters.

Everything here is read-only but for the actions, which call the same services as the API
(executions.operations, executions.maintenance.dead_letters): an operator never edits a
status by hand.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from executions.maintenance.dead_letters import dead_letter_discard, dead_letter_replay
from executions.models import DeadLetter, Execution, NodeRun
from executions.operations import execution_cancel, execution_retry
from linkflow.accounts.admin import act_on_each, operator_acting_in
from linkflow.accounts.http import AuthenticatedHttpRequest
from linkflow.core.admin_readonly import NoAddOrChange

_NODE_RUN_FIELDS = (
    "sequence",
    "node_id",
    "node_type",
    "status",
    "attempt",
    "started_at",
    "finished_at",
    "input",
    "output",
    "error",
)


class NodeRunInline(NoAddOrChange, admin.TabularInline[NodeRun, Execution]):
    model = NodeRun
    extra = 0
    fields = _NODE_RUN_FIELDS
    readonly_fields = _NODE_RUN_FIELDS
    can_delete = False
    ordering = ("sequence",)


@admin.register(Execution)
class ExecutionAdmin(NoAddOrChange, admin.ModelAdmin[Execution]):
    list_display = (
        "id",
        "workflow",
        "workspace",
        "status",
        "mode",
        "queued_at",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", "mode", "queued_at")
    search_fields = ("=id", "workflow__name", "=workflow__id", "workspace__name", "lease_owner")
    list_select_related = ("workflow", "workspace")
    date_hierarchy = "queued_at"
    readonly_fields = (
        "id",
        "workspace",
        "workflow",
        "version",
        "status",
        "mode",
        "trigger_node_id",
        "trigger_input",
        "error",
        "queued_at",
        "started_at",
        "finished_at",
        "resume_at",
        "lease_owner",
        "lease_expires_at",
        "source",
        "rerun_from_node",
        "parent",
        "depth",
        "dedupe_key",
        "created_by",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    inlines = [NodeRunInline]
    actions = ["cancel_executions", "retry_executions"]

    @admin.action(description="Cancel the selected executions (queued, waiting or running)")
    def cancel_executions(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Execution]
    ) -> None:
        def cancel(execution: Execution) -> None:
            execution_cancel(
                user=operator_acting_in(request, execution.workspace_id), execution=execution
            )

        act_on_each(self, request, queryset, cancel, verb="cancelled")

    @admin.action(description="Retry the selected executions (finished ones, as new runs)")
    def retry_executions(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Execution]
    ) -> None:
        def retry(execution: Execution) -> None:
            execution_retry(
                user=operator_acting_in(request, execution.workspace_id), execution=execution
            )

        act_on_each(self, request, queryset, retry, verb="retried")


@admin.register(NodeRun)
class NodeRunAdmin(NoAddOrChange, admin.ModelAdmin[NodeRun]):
    list_display = ("node_id", "node_type", "status", "attempt", "execution", "started_at")
    list_filter = ("status", "node_type")
    search_fields = ("node_id", "=execution__id")
    readonly_fields = ("id", "execution", *_NODE_RUN_FIELDS, "created_at", "updated_at")
    date_hierarchy = "started_at"


@admin.register(DeadLetter)
class DeadLetterAdmin(NoAddOrChange, admin.ModelAdmin[DeadLetter]):
    list_display = (
        "task_name",
        "status",
        "attempts",
        "error_summary",
        "workspace",
        "execution",
        "last_failed_at",
    )
    list_filter = ("status", "task_name", "last_failed_at")
    search_fields = ("=id", "task_name", "task_id", "error", "=execution__id")
    list_select_related = ("workspace", "execution")
    date_hierarchy = "last_failed_at"
    actions = ["replay_dead_letters", "discard_dead_letters"]
    readonly_fields = (
        "id",
        "workspace",
        "execution",
        "task_name",
        "task_id",
        "args",
        "kwargs",
        "fingerprint",
        "error",
        "traceback",
        "attempts",
        "first_failed_at",
        "last_failed_at",
        "status",
        "resolved_at",
        "created_at",
        "updated_at",
    )

    @admin.display(description="Error")
    def error_summary(self, dead_letter: DeadLetter) -> str:
        return dead_letter.error[:120]

    @admin.action(description="Replay the selected dead letters (send the job again)")
    def replay_dead_letters(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        act_on_each(
            self, request, queryset, lambda d: dead_letter_replay(dead_letter=d), verb="replayed"
        )

    @admin.action(description="Discard the selected dead letters (keep them, never send)")
    def discard_dead_letters(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        act_on_each(
            self, request, queryset, lambda d: dead_letter_discard(dead_letter=d), verb="discarded"
        )
