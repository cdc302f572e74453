"""The editor's loop on executions: debug a past run, preview an expression."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from executions import selectors
from executions.running.previews import expression_preview
from executions.sources.test_runs import execution_debug
from linkflow.accounts.http import api_caller
from linkflow.accounts.selectors import require_writer
from linkflow.core.api import validated
from linkflow.core.fields import StrictCharField, StrictUUIDField
from linkflow.engine.expressions import MAX_EXPRESSION_CHARS
from workflows.api.testing import PinnedOutSerializer


class DebugInSerializer(serializers.Serializer[Any]):
    nodes = serializers.ListField(
        child=StrictCharField(max_length=64),
        required=False,
        max_length=1000,
        help_text="Only these nodes (default: every node that succeeded).",
    )


class ExecutionDebugView(APIView):
    """``POST /api/v1/executions/{id}/debug``: its recorded outputs become pinned data."""

    required_scopes = {"read": "workflows:read", "write": "workflows:write"}

    @extend_schema(
        operation_id="executions_debug",
        parameters=[OpenApiParameter("execution_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        request=DebugInSerializer,
        responses=PinnedOutSerializer(many=True),
        description="Copy the outputs this execution recorded (all succeeded nodes, or "
        "`nodes`) into its workflow's pinned data, so the editor opens on what happened.",
    )
    def post(self, request: Request, execution_id: str) -> Response:
        execution = selectors.execution_get(user=api_caller(request), id=execution_id)
        # The role before the body: a viewer gets 403 whatever it sends.
        require_writer(user=api_caller(request), workspace_id=execution.workspace_id)
        data = validated(DebugInSerializer(data=request.data))
        pins = execution_debug(
            user=api_caller(request), execution=execution, nodes=data.get("nodes")
        )
        return Response(PinnedOutSerializer(pins, many=True).data)


class PreviewInSerializer(serializers.Serializer[Any]):
    expression = StrictCharField(
        max_length=MAX_EXPRESSION_CHARS,
        allow_blank=True,
        trim_whitespace=False,
        help_text="A parameter's text, with {{ }} expressions.",
    )
    # Nothing is stored, so any JSON object will do (no storable_json here).
    item = serializers.DictField(required=False, help_text="What `json` is.")
    execution = StrictUUIDField(
        required=False, help_text="Evaluate with that run's data (trigger, nodes, execution)."
    )
    node = StrictCharField(
        required=False,
        max_length=64,
        help_text="With `execution`: as this node saw it (`json`, `items` its input).",
    )


class _PreviewErrorSerializer(serializers.Serializer[Any]):
    message = serializers.CharField()
    position = serializers.IntegerField(
        required=False, help_text="Offset of the failing {{ in the expression."
    )


class PreviewOutSerializer(serializers.Serializer[Any]):
    value = serializers.JSONField(allow_null=True, help_text="The value, or null on error.")
    error = _PreviewErrorSerializer(allow_null=True)


class ExpressionPreviewView(APIView):
    """``POST /api/v1/expressions/preview``: evaluate, store nothing."""

    required_scopes = {"read": "workflows:read", "write": "workflows:read"}
    # Its own, generous budget: the editor asks as a person types.
    throttle_scope = "preview"

    @extend_schema(
        operation_id="expressions_preview",
        request=PreviewInSerializer,
        responses=PreviewOutSerializer,
        description="Evaluate an expression in the same sandbox and bounds as a run. An "
        "expression that fails answers 200 with `error` (message and position).",
    )
    def post(self, request: Request) -> Response:
        data = validated(PreviewInSerializer(data=request.data))
        answer = expression_preview(
            user=api_caller(request),
            expression=data["expression"],
            item=data.get("item"),
            execution_id=data.get("execution"),
            node_id=data.get("node"),
        )
        return Response(answer)
