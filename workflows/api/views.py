import hashlib
import re
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from executions.api.serializers import ExecuteInSerializer, ExecutionOutSerializer
from executions.api.views import accepted
from executions.services import execution_create
from executions.starting.idempotency import request_fingerprint
from linkflow.accounts.http import api_caller
from linkflow.accounts.selectors import workspace_target
from linkflow.core.api import validated, validated_query
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.core.schema import PLAN_LIMITED, ErrorSerializer

from .. import selectors, services
from ..models import Workflow
from .imports import import_documents
from .serializers import (
    WorkflowFilterSerializer,
    WorkflowImportInSerializer,
    WorkflowInSerializer,
    WorkflowOutSerializer,
)

# A repeated Idempotency-Key within this window gets the first execution back.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
IDEMPOTENCY_KEY_MAX = 200
# Printable ASCII without spaces at either end: HTTP servers strip those, so "  " would
# arrive empty and " a" as "a". The schema carries the same pattern.
IDEMPOTENCY_KEY_PATTERN = f"^[!-~]([ -~]{{0,{IDEMPOTENCY_KEY_MAX - 2}}}[!-~])?$"


@extend_schema_view(list=extend_schema(parameters=[WorkflowFilterSerializer]))
class WorkflowViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Workflow],
):
    serializer_class = WorkflowOutSerializer
    # For API keys and OAuth2 tokens (linkflow.accounts.scoping.HasScope); running a
    # workflow makes an execution, so it takes the executions scope.
    required_scopes = {
        "read": "workflows:read",
        "write": "workflows:write",
        "execute": "executions:write",
    }
    throttle_scope = "default"  # the execute action counts against "execute" instead

    def get_queryset(self) -> QuerySet[Workflow]:
        if self.action != "list":
            return selectors.workflow_list(user=api_caller(self.request))
        filters = validated_query(WorkflowFilterSerializer, self.request)
        return selectors.workflow_list(user=api_caller(self.request), **filters)

    def get_object(self) -> Workflow:
        return selectors.workflow_get(user=api_caller(self.request), id=self.kwargs["pk"])

    @extend_schema(
        request=WorkflowInSerializer, responses={201: WorkflowOutSerializer, **PLAN_LIMITED}
    )
    def create(self, request: Request) -> Response:
        data = validated(WorkflowInSerializer(data=request.data))
        workspace = workspace_target(
            user=api_caller(request), workspace_id=data.pop("workspace", None)
        )
        # One transaction: a workflow refused activation (plan limit) is not left behind.
        with transaction.atomic():
            workflow = services.workflow_create(
                user=api_caller(request),
                workspace=workspace,
                name=data["name"],
                description=data["description"],
                graph=data["graph"],
                settings=data.get("settings"),
            )
            if data.get("active"):
                workflow = services.workflow_update(
                    user=api_caller(request), workflow=workflow, changes={"active": True}
                )
        return Response(
            WorkflowOutSerializer(workflow, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=WorkflowInSerializer, responses={200: WorkflowOutSerializer, **PLAN_LIMITED}
    )
    def update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        request=WorkflowInSerializer, responses={200: WorkflowOutSerializer, **PLAN_LIMITED}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        workflow = self.get_object()
        changes = validated(WorkflowInSerializer(data=request.data, partial=partial))
        changes.pop("workspace", None)  # moving between workspaces is not an edit
        if partial:
            changes = {k: v for k, v in changes.items() if k in request.data}
        workflow = services.workflow_update(
            user=api_caller(request), workflow=workflow, changes=changes
        )
        return Response(WorkflowOutSerializer(workflow, context={"request": request}).data)

    def perform_destroy(self, instance: Workflow) -> None:
        services.workflow_delete(user=api_caller(self.request), workflow=instance)

    @extend_schema(
        request=WorkflowImportInSerializer,
        responses={201: OpenApiTypes.OBJECT},
        description="Import an exported workflow (LinkFlow's or n8n's) as a new, inactive "
        "workflow. Answers {workflow, report}; for a list of n8n workflows, {workflows, "
        "reports}. The report says per node mapped / mapped_with_warnings / not_mapped and "
        "per expression translated / kept.",
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_workflow(self, request: Request) -> Response:
        data = validated(WorkflowImportInSerializer(data=request.data))
        workspace = workspace_target(user=api_caller(request), workspace_id=data.get("workspace"))
        body = import_documents(
            request, workspace=workspace, document=data["document"], format=data.get("format")
        )
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ExecuteInSerializer,
        responses={
            202: ExecutionOutSerializer,
            422: OpenApiResponse(
                ErrorSerializer,
                description="idempotency_key_reused: this Idempotency-Key was used with "
                "another body.",
            ),
            **PLAN_LIMITED,
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDEMPOTENCY_KEY_MAX,
                    "pattern": IDEMPOTENCY_KEY_PATTERN,
                },
                OpenApiParameter.HEADER,
                description="1 to 200 printable ASCII characters, no space at either end. "
                "Repeating a key for this workflow within 24 hours with the same body "
                "(compared as canonical JSON) answers the first execution instead of "
                "starting another; with a different body it answers 422 "
                "idempotency_key_reused.",
            )
        ],
    )
    @action(detail=True, methods=["post"], throttle_scope="execute")
    def execute(self, request: Request, pk: str) -> Response:
        workflow = self.get_object()
        data = validated(ExecuteInSerializer(data=request.data))
        execution = execution_create(
            user=api_caller(request),
            workflow=workflow,
            trigger_input=data["input"],
            mode="api",
            dedupe_key=_idempotency_key(request),
            dedupe_window=IDEMPOTENCY_WINDOW,
            dedupe_fingerprint=request_fingerprint(data),
        )
        if (
            execution.version_id == workflow.current_version_id
            and workflow.current_version is not None
        ):
            # The version row came with the workflow: the response reads its number from
            # there, not from a query of its own (a repeat may have run an older version).
            execution.version = workflow.current_version
        # A repeated key answers the first execution, as it is now, the same way.
        return accepted(request, execution)


def _idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header as a dedupe key: hashed, so any key of up to
    IDEMPOTENCY_KEY_MAX characters fits the column and keeps apart from other key kinds."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key) is None:
        message = f"Use 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters."
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={"Idempotency-Key": [message]},
        )
    return "idem:" + hashlib.sha256(key.encode()).hexdigest()
