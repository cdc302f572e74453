from typing import Any

from rest_framework import serializers

from executions.models import Execution, ExecutionMode, ExecutionStatus, NodeRun
from executions.running.payloads import PayloadMissing, payload_load
from linkflow.core.fields import StrictCharField
from linkflow.core.validators import storable_json


class ExecuteInSerializer(serializers.Serializer[Any]):
    input = serializers.DictField(required=False, default=dict, validators=[storable_json])


_VERSION_HELP = (
    "`original` (default): the version the execution ran; `current`: the workflow's "
    "current version (after a fix)."
)


class RetryInSerializer(serializers.Serializer[Any]):
    version = serializers.ChoiceField(
        choices=["original", "current"], default="original", help_text=_VERSION_HELP
    )


class RerunInSerializer(RetryInSerializer):
    from_node = StrictCharField(max_length=64)


class ExecutionFilterSerializer(serializers.Serializer[Any]):
    """The list's query parameters; a bad one is a 400 naming it."""

    workflow = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, required=False)
    mode = serializers.ChoiceField(
        choices=ExecutionMode.choices,
        required=False,
        help_text="Without it test runs (mode `test`, the editor's loop) are left out.",
    )
    started_after = serializers.DateTimeField(
        required=False, help_text="Started at or after this ISO 8601 time."
    )
    started_before = serializers.DateTimeField(
        required=False, help_text="Started before this ISO 8601 time."
    )


class StoredPayloadField(serializers.JSONField):
    """Node input/output, read back from storage when it was too large to keep inline."""

    def to_representation(self, value: Any) -> Any:
        try:
            return super().to_representation(payload_load(value))
        except PayloadMissing:
            # Removed by retention cleanup: say so instead of failing the whole response.
            return {"$missing": value}


class NodeRunOutSerializer(serializers.ModelSerializer[NodeRun]):
    input = StoredPayloadField()
    output = StoredPayloadField()
    items = serializers.JSONField(
        source="item_meta",
        help_text=(
            "How the input items fared: `mode` (`per_item` or `batch`), `counts` "
            "(`succeeded`, `failed`, `not_run`), `lineage` (per port, the input index each "
            "output item came from), `done`/`failed` (input indexes, per-item nodes) and "
            "`skipped` (`disabled` for a disabled node). Empty for older records."
        ),
    )

    class Meta:
        model = NodeRun
        fields = (
            "id",
            "node_id",
            "node_type",
            "status",
            "attempt",
            "iteration",
            "input",
            "output",
            "error",
            "items",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class ExecutionOutSerializer(serializers.ModelSerializer[Execution]):
    workflow = serializers.UUIDField(source="workflow_id")
    workspace = serializers.UUIDField(source="workspace_id")
    version = serializers.IntegerField(
        source="version.number",
        help_text="The version it ran; 0 for a test run of an unsaved graph (kept as a "
        "hidden snapshot).",
    )
    input = serializers.JSONField(source="trigger_input")
    source = serializers.UUIDField(source="source_id", allow_null=True)  # type: ignore[assignment]  # shadows a Field attribute
    parent = serializers.UUIDField(source="parent_id", allow_null=True)  # type: ignore[assignment]  # shadows a Field attribute

    class Meta:
        model = Execution
        fields: tuple[str, ...] = (
            "id",
            "workspace",
            "workflow",
            "version",
            "status",
            "mode",
            "input",
            "error",
            "queued_at",
            "started_at",
            "finished_at",
            "resume_at",
            "source",
            "rerun_from_node",
            "parent",
        )
        read_only_fields = fields
        extra_kwargs = {
            "status": {
                "help_text": "pending: admitted, waiting for a dispatch slot of its workspace"
                " (its plan's concurrent executions, or LINKFLOW_DISPATCH_WINDOW); queued:"
                " dispatched, a worker will take it; running; waiting: parked until resume_at"
                " (a wait or a retry back-off); then succeeded, failed or cancelled."
            }
        }


class ExecutionDetailOutSerializer(ExecutionOutSerializer):
    node_runs = NodeRunOutSerializer(many=True, read_only=True)

    class Meta(ExecutionOutSerializer.Meta):
        fields = (*ExecutionOutSerializer.Meta.fields, "node_runs")
        read_only_fields = fields


class RepeatOutSerializer(ExecutionOutSerializer):
    """A retry or re-run as admitted: the new execution, and which nodes of the version it
    runs keep their recorded output and which run again."""

    reused_nodes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Nodes whose output this execution recorded is reused, in execution order.",
    )
    run_nodes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Nodes that run: the start node, everything after it, and every node the "
        "version run changed (type, params, credential, incoming edges) with what follows.",
    )

    class Meta(ExecutionOutSerializer.Meta):
        fields = (*ExecutionOutSerializer.Meta.fields, "reused_nodes", "run_nodes")
        read_only_fields = fields


# One unbound field, only for its rendering of a datetime (format and time zone as
# REST_FRAMEWORK says), so execution_out writes timestamps exactly as the serializer does.
_DATETIME = serializers.DateTimeField()


def _moment(value: Any) -> Any:
    return None if value is None else _DATETIME.to_representation(value)


def _uuid(value: Any) -> str | None:
    return None if value is None else str(value)


def execution_out(execution: Execution) -> dict[str, Any]:
    """ExecutionOutSerializer's output, built directly: the 202 of every start path renders
    it, and the serializer's field machinery cost a fifth of that request's CPU. The shape
    stays ExecutionOutSerializer's (the schema names it; a test compares the two)."""
    return {
        "id": str(execution.pk),
        "workspace": _uuid(execution.workspace_id),
        "workflow": _uuid(execution.workflow_id),
        "version": execution.version.number,
        "status": str(execution.status),
        "mode": str(execution.mode),
        "input": execution.trigger_input,
        "error": execution.error,
        "queued_at": _moment(execution.queued_at),
        "started_at": _moment(execution.started_at),
        "finished_at": _moment(execution.finished_at),
        "resume_at": _moment(execution.resume_at),
        "source": _uuid(execution.source_id),
        "rerun_from_node": str(execution.rerun_from_node),
        "parent": _uuid(execution.parent_id),
    }
