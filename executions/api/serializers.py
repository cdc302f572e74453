from rest_framework import serializers

from ..models import Execution, ExecutionStatus, NodeRun


class ExecuteInSerializer(serializers.Serializer):
    input = serializers.DictField(required=False, default=dict)


class ExecutionFilterSerializer(serializers.Serializer):
    workflow = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, required=False)


class NodeRunOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = NodeRun
        fields = (
            "node_id",
            "node_type",
            "status",
            "attempt",
            "input",
            "output",
            "error",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class ExecutionOutSerializer(serializers.ModelSerializer):
    workflow = serializers.UUIDField(source="workflow_id")
    workspace = serializers.UUIDField(source="workspace_id")
    version = serializers.IntegerField(source="version.number")
    input = serializers.JSONField(source="trigger_input")

    class Meta:
        model = Execution
        fields = (
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
        )
        read_only_fields = fields


class ExecutionDetailOutSerializer(ExecutionOutSerializer):
    node_runs = NodeRunOutSerializer(many=True, read_only=True)

    class Meta(ExecutionOutSerializer.Meta):
        fields = (*ExecutionOutSerializer.Meta.fields, "node_runs")
        read_only_fields = fields
