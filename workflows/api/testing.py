"""The editor's build-test loop on a workflow: test runs, pinned data, listening.

Thin views over executions/sources/test_runs.py, workflows/pinned.py and workflows/listening.py
(docs/editor-loop.md). The workflow is read through the tenant-scoped selector (404 for
an outsider); the services check the role (403 for a viewer).
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from executions.api.serializers import ExecutionOutSerializer
from executions.api.views import accepted
from executions.sources.test_runs import pin_from_node_run, test_run_plan, test_run_start
from linkflow.accounts.http import api_caller
from linkflow.accounts.selectors import require_writer
from linkflow.core.api import validated
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.core.fields import StrictBooleanField, StrictCharField, StrictUUIDField
from linkflow.core.validators import storable_json

from .. import listening, pinned, selectors
from ..models import PinnedData, Workflow
from .serializers import GraphField

NODE_ID = OpenApiParameter("node_id", str, OpenApiParameter.PATH, description="A node id.")
WORKFLOW_ID = OpenApiParameter("workflow_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
_SCOPES = {"read": "workflows:read", "write": "workflows:write"}


class TestPlanInSerializer(serializers.Serializer[Any]):
    """What a test run and its plan share: which graph, which node, whether pins count."""

    graph = GraphField(
        required=False,
        help_text="An unsaved graph to test (default: the saved one). Kept as a hidden "
        "snapshot version (number 0), never listed or restored.",
    )
    node = StrictCharField(
        required=False,
        max_length=64,
        help_text="Run only what this node's output needs: its upstream from pinned or "
        "last-run data where there is some, then the node.",
    )
    pinned = StrictBooleanField(
        required=False, default=True, help_text="Use the workflow's pinned data (default)."
    )


class TestRunInSerializer(TestPlanInSerializer):
    # A test run stores its graph (the snapshot) and its input: both must be storable.
    graph = GraphField(
        required=False,
        validators=[storable_json],
        help_text=TestPlanInSerializer._declared_fields["graph"].help_text,
    )
    input = serializers.DictField(required=False, default=dict, validators=[storable_json])


def _tested(data: dict[str, Any]) -> dict[str, Any]:
    """A validated test body as the services' keyword arguments."""
    return {"graph": data.get("graph"), "node": data.get("node"), "use_pinned": data["pinned"]}


class WorkflowTestView(APIView):
    """``POST /api/v1/workflows/{id}/test``: a test run (mode ``test``)."""

    required_scopes = {"read": "executions:read", "write": "executions:write"}
    throttle_scope = "execute"

    @extend_schema(
        operation_id="workflows_test",
        parameters=[WORKFLOW_ID],
        request=TestRunInSerializer,
        responses={202: ExecutionOutSerializer},
        description="Start a test run of the saved or the given unsaved graph. Test runs "
        "never count towards plan limits; past LINKFLOW_TEST_RUNS_PER_MINUTE or "
        "LINKFLOW_TEST_RUN_CONCURRENCY of the workspace they answer 429 `test_run_limit`.",
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        workflow = _writable(request, workflow_id)
        data = validated(TestRunInSerializer(data=request.data))
        execution = test_run_start(
            user=api_caller(request),
            workflow=workflow,
            trigger_input=data["input"],
            **_tested(data),
        )
        return accepted(request, execution)


class TestPlanOutSerializer(serializers.Serializer[Any]):
    run = serializers.ListField(child=serializers.CharField(), help_text="Run for real.")
    pinned = serializers.ListField(child=serializers.CharField(), help_text="Give pinned items.")
    reused = serializers.ListField(
        child=serializers.CharField(), help_text="Give the output of an earlier test run."
    )
    skipped = serializers.ListField(
        child=serializers.CharField(), help_text="Not needed for the test step."
    )
    outside_effects = serializers.ListField(
        child=serializers.CharField(),
        help_text="Those of `run` that reach past LinkFlow (requests, mail, rows, messages).",
    )


class WorkflowTestPlanView(APIView):
    """``POST /api/v1/workflows/{id}/test/plan``: what a test run would run, unstarted."""

    required_scopes = {"read": "executions:read", "write": "executions:write"}

    @extend_schema(
        operation_id="workflows_test_plan",
        parameters=[WORKFLOW_ID],
        request=TestPlanInSerializer,
        responses={200: TestPlanOutSerializer},
        description="Which nodes a test run with the same body would run for real, and "
        "which of those have effects outside LinkFlow; nothing runs and nothing is stored. "
        "The editor asks it before a test run, to warn.",
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        workflow = _writable(request, workflow_id)
        data = validated(TestPlanInSerializer(data=request.data))
        plan = test_run_plan(user=api_caller(request), workflow=workflow, **_tested(data))
        return Response(TestPlanOutSerializer(plan).data)


class PinnedOutSerializer(serializers.ModelSerializer[PinnedData]):
    class Meta:
        model = PinnedData
        fields = ("node_id", "port", "items", "updated_at")
        read_only_fields = fields


class PinnedInSerializer(serializers.Serializer[Any]):
    """Either ``items`` (with an optional ``port``) or ``from_node_run``."""

    items = serializers.ListField(
        child=serializers.DictField(), required=False, validators=[storable_json]
    )
    port = StrictCharField(required=False, max_length=64, default="main")
    from_node_run = StrictUUIDField(
        required=False, help_text="Pin the output this NodeRun recorded (any execution)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("items" in attrs) == ("from_node_run" in attrs):
            raise serializers.ValidationError({"items": ["Give either items or from_node_run."]})
        return attrs


class PinnedListView(APIView):
    """``GET /api/v1/workflows/{id}/pinned``: every pinned node of the workflow."""

    required_scopes = _SCOPES

    @extend_schema(
        operation_id="workflows_pinned_list",
        parameters=[WORKFLOW_ID],
        responses=PinnedOutSerializer(many=True),
    )
    def get(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(user=api_caller(request), id=workflow_id)
        return Response(PinnedOutSerializer(pinned.pinned_list(workflow=workflow), many=True).data)


class PinnedDetailView(APIView):
    """``/api/v1/workflows/{id}/pinned/{node_id}``: one node's pinned output items."""

    required_scopes = _SCOPES

    def _workflow(self, request: Request, workflow_id: str) -> Workflow:
        return selectors.workflow_get(user=api_caller(request), id=workflow_id)

    @extend_schema(
        operation_id="workflows_pinned_retrieve",
        parameters=[WORKFLOW_ID, NODE_ID],
        responses=PinnedOutSerializer,
    )
    def get(self, request: Request, workflow_id: str, node_id: str) -> Response:
        pin = pinned.pinned_get(workflow=self._workflow(request, workflow_id), node_id=node_id)
        return Response(PinnedOutSerializer(pin).data)

    @extend_schema(
        operation_id="workflows_pinned_update",
        parameters=[WORKFLOW_ID, NODE_ID],
        request=PinnedInSerializer,
        responses=PinnedOutSerializer,
        description="Pin output items (size-limited, the workspace's secrets redacted); "
        "pinning makes no new version. Test runs use them instead of running the node; "
        "production executions never do.",
    )
    def put(self, request: Request, workflow_id: str, node_id: str) -> Response:
        workflow = _writable(request, workflow_id)
        data = validated(PinnedInSerializer(data=request.data))
        _node_id_check(node_id)
        if "from_node_run" in data:
            pin = pin_from_node_run(
                user=api_caller(request),
                workflow=workflow,
                node_id=node_id,
                node_run_id=data["from_node_run"],
            )
        else:
            pin = pinned.pinned_put(
                user=api_caller(request),
                workflow=workflow,
                node_id=node_id,
                items=data["items"],
                port=data["port"],
            )
        return Response(PinnedOutSerializer(pin).data)

    @extend_schema(
        operation_id="workflows_pinned_destroy",
        parameters=[WORKFLOW_ID, NODE_ID],
        responses={204: None},
    )
    def delete(self, request: Request, workflow_id: str, node_id: str) -> Response:
        workflow = self._workflow(request, workflow_id)
        pinned.pinned_delete(user=api_caller(request), workflow=workflow, node_id=node_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _writable(request: Request, workflow_id: str) -> Workflow:
    """The workflow, for a caller who may change it: the role is checked before the body
    is, so a viewer learns nothing from validation (403, not 400)."""
    workflow = selectors.workflow_get(user=api_caller(request), id=workflow_id)
    require_writer(user=api_caller(request), workspace_id=workflow.workspace_id)
    return workflow


def _node_id_check(node_id: str) -> None:
    if not node_id or len(node_id) > 64 or "\x00" in node_id:
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={"node_id": ["1 to 64 characters."]},
        )


class ListenInSerializer(serializers.Serializer[Any]):
    seconds = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=listening.MAX_LISTEN_SECONDS,
        help_text="How long the window stays open (default LINKFLOW_LISTEN_SECONDS, 120).",
    )
    pin = StrictBooleanField(
        required=False, default=False, help_text="Keep the request as the trigger's pin."
    )


class ListenOutSerializer(serializers.Serializer[Any]):
    listening_until = serializers.DateTimeField(source="until")
    pin = serializers.BooleanField()


class WorkflowListenView(APIView):
    """``/api/v1/workflows/{id}/listen``: open (POST) or close (DELETE) the test window."""

    required_scopes = {"read": "executions:read", "write": "executions:write"}

    @extend_schema(
        operation_id="workflows_listen",
        parameters=[WORKFLOW_ID],
        request=ListenInSerializer,
        responses={200: ListenOutSerializer},
        description="Until `listening_until`, one request to a test URL of the workflow "
        "(`webhooks[].test_url`) starts a test run with that request as the trigger item, "
        "active or not, and closes the window. Outside a window test URLs answer 404.",
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        workflow = _writable(request, workflow_id)
        data = validated(ListenInSerializer(data=request.data))
        window = listening.listen_open(
            user=api_caller(request),
            workflow=workflow,
            seconds=data.get("seconds"),
            pin=data["pin"],
        )
        return Response(ListenOutSerializer(window).data)

    @extend_schema(
        operation_id="workflows_listen_destroy",
        parameters=[WORKFLOW_ID],
        request=None,
        responses={204: OpenApiResponse(description="Not listening (any more).")},
    )
    def delete(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(user=api_caller(request), id=workflow_id)
        listening.listen_close(user=api_caller(request), workflow=workflow)
        return Response(status=status.HTTP_204_NO_CONTENT)
