from rest_framework import serializers

from ..models import Workflow


class WorkflowInSerializer(serializers.Serializer):
    """What a client may send. `graph` is checked by the engine in the service."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    graph = serializers.JSONField()
    active = serializers.BooleanField(required=False)
    workspace = serializers.UUIDField(required=False)


class WorkflowOutSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="current_version.number", default=None)
    graph = serializers.JSONField(source="current_version.graph", default=None)
    workspace = serializers.UUIDField(source="workspace_id")

    class Meta:
        model = Workflow
        fields = (
            "id",
            "workspace",
            "name",
            "description",
            "active",
            "version",
            "graph",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields
