from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from executions.api.serializers import ExecuteInSerializer, ExecutionOutSerializer
from executions.api.views import accepted
from executions.services import execution_create
from linkflow.accounts.models import Workspace
from linkflow.accounts.selectors import workspace_default_for
from linkflow.core.errors import NotFound

from .. import selectors, services
from ..models import Workflow
from .serializers import WorkflowInSerializer, WorkflowOutSerializer


class WorkflowViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WorkflowOutSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.workflow_list(user=self.request.user)

    def get_object(self) -> Workflow:
        return selectors.workflow_get(user=self.request.user, id=self.kwargs["pk"])

    @extend_schema(request=WorkflowInSerializer, responses={201: WorkflowOutSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(WorkflowInSerializer(data=request.data))
        workspace = _workspace(request, data.pop("workspace", None))
        workflow = services.workflow_create(
            user=request.user,
            workspace=workspace,
            name=data["name"],
            description=data["description"],
            graph=data["graph"],
        )
        if data.get("active"):
            workflow = services.workflow_update(
                user=request.user, workflow=workflow, changes={"active": True}
            )
        return Response(
            WorkflowOutSerializer(workflow, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=WorkflowInSerializer, responses=WorkflowOutSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=WorkflowInSerializer, responses=WorkflowOutSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        workflow = self.get_object()
        changes = _valid(WorkflowInSerializer(data=request.data, partial=partial))
        changes.pop("workspace", None)  # moving between workspaces is not an edit
        if partial:
            changes = {k: v for k, v in changes.items() if k in request.data}
        workflow = services.workflow_update(user=request.user, workflow=workflow, changes=changes)
        return Response(WorkflowOutSerializer(workflow, context={"request": request}).data)

    def perform_destroy(self, instance: Workflow) -> None:
        services.workflow_delete(user=self.request.user, workflow=instance)

    @extend_schema(request=ExecuteInSerializer, responses={202: ExecutionOutSerializer})
    @action(detail=True, methods=["post"])
    def execute(self, request: Request, pk: str) -> Response:
        workflow = self.get_object()
        data = _valid(ExecuteInSerializer(data=request.data))
        execution = execution_create(
            user=request.user, workflow=workflow, trigger_input=data["input"], mode="api"
        )
        return accepted(request, execution)


def _valid(serializer):  # type: ignore[no-untyped-def]
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _workspace(request: Request, workspace_id: object) -> Workspace:
    if workspace_id is None:
        return workspace_default_for(user=request.user)
    # Membership is checked by the service; an unknown id must look the same as a foreign one.
    workspace = Workspace.objects.filter(id=workspace_id).first()
    if workspace is None:
        raise NotFound("Workspace not found.")
    return workspace
