from typing import Any

from django.conf import settings
from django.db.models import Manager, prefetch_related_objects
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.api.views import RefusalOutSerializer
from linkflow.core.fields import (
    QueryBooleanField,
    StrictBooleanField,
    StrictCharField,
    StrictUUIDField,
)
from linkflow.core.validators import storable_json
from linkflow.engine import Graph

from ..current_graph import workflow_graph
from ..models import SWITCH_SETTING_FIELDS, WebhookTrigger, Workflow
from ..subworkflow_inputs import workflow_inputs

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


class WorkflowSettingsSerializer(serializers.Serializer[Any]):
    """What the workflow keeps of its finished executions (n8n's save policy), its error
    workflow, and what a failed webhook call is told. Each field is optional on input; what
    is left out stays as it was (by default everything is kept and no details are told)."""

    save_succeeded = StrictBooleanField(
        required=False, help_text="Keep executions that succeeded (manual ones: save_manual)."
    )
    save_failed = StrictBooleanField(
        required=False, help_text="Keep executions that failed or were cancelled."
    )
    save_manual = StrictBooleanField(
        required=False, help_text="Keep manual executions, whatever their outcome."
    )
    save_node_data = StrictBooleanField(
        required=False,
        help_text="Keep node inputs/outputs and the trigger input of kept executions.",
    )
    webhook_error_details = StrictBooleanField(
        required=False,
        help_text="Off (default): a failed webhook call answers a generic error and a "
        "`reference` id (logged by the server with the details). On: the details too "
        "(execution and node ids, errors, auth reasons), for debugging.",
    )
    error_workflow = StrictUUIDField(
        required=False,
        allow_null=True,
        help_text="A workflow of the same workspace run with a trigger.error item when an "
        "execution of this one fails for good; null for none.",
    )


@extend_schema_field(
    {
        "type": "object",
        "description": "The workflow's nodes and edges (see the design's graph format); the "
        "engine checks it and answers 400 `workflow_graph_invalid` listing every problem.",
    }
)
class GraphField(serializers.JSONField):
    """A graph is a JSON object; null, a list or a number is refused here, not by the engine."""

    default_error_messages = {"invalid": "Must be a JSON object."}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            self.fail("invalid")
        return super().to_internal_value(data)


class WorkflowInSerializer(serializers.Serializer[Any]):
    """What a client may send. `graph` is checked by the engine in the service."""

    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True, default="")
    graph = GraphField(validators=[storable_json])
    active = StrictBooleanField(required=False)
    workspace = StrictUUIDField(required=False)
    settings = WorkflowSettingsSerializer(required=False)


class WorkflowFilterSerializer(serializers.Serializer[Any]):
    """The list's query parameters; a bad one is a 400 naming it."""

    active = QueryBooleanField(required=False, help_text="`true` or `false`.")
    search = StrictCharField(
        required=False, max_length=200, help_text="Part of the name, any case."
    )


class WebhookOutSerializer(serializers.Serializer[Any]):
    """One webhook URL of a workflow. ``path_url`` is set when the node has a readable path."""

    node_id = serializers.CharField()
    method = serializers.CharField()
    url = serializers.SerializerMethodField()
    path_url = serializers.SerializerMethodField()
    test_url = serializers.SerializerMethodField(
        help_text="Answers only while someone listens (POST .../listen): a test run."
    )
    test_path_url = serializers.SerializerMethodField()

    def get_url(self, trigger: WebhookTrigger) -> str:
        return self._absolute(reverse("webhook", kwargs={"token": trigger.token}))

    def get_path_url(self, trigger: WebhookTrigger) -> str | None:
        return self._path_url(trigger, "webhook-path")

    def get_test_url(self, trigger: WebhookTrigger) -> str:
        return self._absolute(reverse("webhook-test", kwargs={"token": trigger.token}))

    def get_test_path_url(self, trigger: WebhookTrigger) -> str | None:
        return self._path_url(trigger, "webhook-test-path")

    def _path_url(self, trigger: WebhookTrigger, name: str) -> str | None:
        if not trigger.path:
            return None
        kwargs = {"workspace_id": trigger.workspace_id, "path": trigger.path}
        return self._absolute(reverse(name, kwargs=kwargs))

    def _absolute(self, path: str) -> str:
        # A separate webhook origin keeps what workflows answer off the UI's host.
        webhook_base = getattr(settings, "LINKFLOW_WEBHOOK_BASE_URL", "")
        if webhook_base:
            return webhook_base + path
        request = self.context.get("request")
        if request is not None:
            return str(request.build_absolute_uri(path))
        # Outside a request (or when a view did not pass one) the configured public address.
        public_url = getattr(settings, "LINKFLOW_PUBLIC_URL", DEFAULT_PUBLIC_URL)
        return public_url.rstrip("/") + path


class WorkflowListSerializer(serializers.ListSerializer[Any]):
    """Loads the webhook rows of a whole page in one query instead of one per workflow."""

    def to_representation(self, data: Any) -> list[Any]:
        workflows = list(data.all() if isinstance(data, Manager) else data)
        prefetch_related_objects(workflows, "webhook_triggers")
        return super().to_representation(workflows)


class WorkflowOutSerializer(serializers.ModelSerializer[Workflow]):
    version = serializers.IntegerField(source="current_version.number", default=None)
    graph = serializers.JSONField(source="current_version.graph", default=None)
    workspace = serializers.UUIDField(source="workspace_id")
    webhooks = serializers.SerializerMethodField()
    settings = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField(
        help_text="The fields its manual trigger declares for callers (workflow.execute), "
        "or null when it takes any items."
    )
    last_refusal = RefusalOutSerializer(
        allow_null=True,
        read_only=True,
        help_text="The last cron fire the plan refused (monthly quota), or null.",
    )

    class Meta:
        model = Workflow
        list_serializer_class = WorkflowListSerializer
        fields = (
            "id",
            "workspace",
            "name",
            "description",
            "active",
            "version",
            "graph",
            "webhooks",
            "settings",
            "inputs",
            "last_refusal",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(WorkflowSettingsSerializer)
    def get_settings(self, workflow: Workflow) -> dict[str, Any]:
        values: dict[str, Any] = {name: getattr(workflow, name) for name in SWITCH_SETTING_FIELDS}
        error_workflow = workflow.error_workflow_id
        values["error_workflow"] = str(error_workflow) if error_workflow else None
        return values

    @extend_schema_field({"type": "array", "items": {"type": "object"}, "nullable": True})
    def get_inputs(self, workflow: Workflow) -> list[dict[str, Any]] | None:
        return workflow_inputs(workflow)

    @extend_schema_field(WebhookOutSerializer(many=True))
    def get_webhooks(self, workflow: Workflow) -> Any:
        graph = workflow_graph(workflow)
        # In the graph's node order, as the user laid the workflow out.
        rows = sorted(workflow.webhook_triggers.all(), key=lambda t: _position(graph, t.node_id))
        return WebhookOutSerializer(rows, many=True, context=self.context).data


def _position(graph: Graph, node_id: str) -> int:
    node = graph.find(node_id)
    return node.index if node is not None else 0


@extend_schema_field(
    {
        "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
        "description": "The export: one workflow object, or a list of n8n workflows.",
    }
)
class ImportDocumentField(serializers.JSONField):
    """An export is an object (or a list of objects); anything else is refused here."""

    default_error_messages = {"invalid": "Must be a JSON object or a list of objects."}

    def to_internal_value(self, data: Any) -> Any:
        is_list = isinstance(data, list) and all(isinstance(entry, dict) for entry in data)
        if not (isinstance(data, dict) or is_list):
            self.fail("invalid")
        return super().to_internal_value(data)


class WorkflowImportInSerializer(serializers.Serializer[Any]):
    """An export to import: LinkFlow's own (``linkflow``) or n8n's (``n8n``: one
    workflow, or a list of them as ``n8n export:workflow --all`` writes). Without
    ``format`` the document's shape decides."""

    format = serializers.ChoiceField(choices=["linkflow", "n8n"], required=False)
    document = ImportDocumentField(validators=[storable_json])
    workspace = StrictUUIDField(required=False)
