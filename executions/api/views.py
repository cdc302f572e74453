from django.db.models import QuerySet
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from executions import operations, selectors
from executions.api.serializers import (
    ExecutionDetailOutSerializer,
    ExecutionFilterSerializer,
    ExecutionOutSerializer,
    RepeatOutSerializer,
    RerunInSerializer,
    RetryInSerializer,
    execution_out,
)
from executions.models import Execution
from executions.running.files import FileMissing, execution_file_open
from linkflow.accounts.http import api_caller
from linkflow.core.api import CreatedCursorPagination, validated, validated_query
from linkflow.core.errors import NotFound
from linkflow.core.schema import PLAN_LIMITED


@extend_schema_view(list=extend_schema(parameters=[ExecutionFilterSerializer]))
class ExecutionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Execution]
):
    pagination_class = CreatedCursorPagination
    # For API keys and OAuth2 tokens (linkflow.accounts.scoping.HasScope).
    required_scopes = {"read": "executions:read", "write": "executions:write"}

    def get_serializer_class(self) -> type[ExecutionOutSerializer]:
        if self.action == "retrieve":
            return ExecutionDetailOutSerializer
        return ExecutionOutSerializer

    def get_queryset(self) -> QuerySet[Execution]:
        data = validated_query(ExecutionFilterSerializer, self.request)
        return selectors.execution_list(
            user=api_caller(self.request),
            workflow_id=data.get("workflow"),
            status=data.get("status"),
            mode=data.get("mode"),
            started_after=data.get("started_after"),
            started_before=data.get("started_before"),
        ).defer("version__graph", "inherited_secrets", "resume_call")  # not in a list row

    def get_object(self) -> Execution:
        return selectors.execution_get(user=api_caller(self.request), id=self.kwargs["pk"])

    @extend_schema(request=None, responses=ExecutionOutSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        execution = operations.execution_cancel(
            user=api_caller(request), execution=self.get_object()
        )
        return Response(ExecutionOutSerializer(execution).data)

    @extend_schema(request=RetryInSerializer, responses={202: RepeatOutSerializer, **PLAN_LIMITED})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        body = validated(RetryInSerializer(data=request.data))
        repeat = operations.execution_retry(
            user=api_caller(request), execution=self.get_object(), version=body["version"]
        )
        return repeat_accepted(request, repeat)

    @extend_schema(request=RerunInSerializer, responses={202: RepeatOutSerializer, **PLAN_LIMITED})
    @action(detail=True, methods=["post"])
    def rerun(self, request: Request, pk: str) -> Response:
        body = validated(RerunInSerializer(data=request.data))
        repeat = operations.execution_rerun(
            user=api_caller(request),
            execution=self.get_object(),
            from_node=body["from_node"],
            version=body["version"],
        )
        return repeat_accepted(request, repeat)

    @extend_schema(
        responses={(200, "application/octet-stream"): bytes},
        description="The bytes of a file item of this execution (its `$file` key's last "
        "part), as an attachment. 404 for a name the execution has not stored, or no more.",
    )
    @action(detail=True, methods=["get"], url_path=r"files/(?P<name>[^/]+)")
    def file(self, request: Request, pk: str, name: str) -> FileResponse:
        execution = selectors.execution_access(user=api_caller(request), id=pk)
        try:
            handle, filename = execution_file_open(execution_id=str(execution.pk), name=name)
        except FileMissing:
            raise NotFound("File not found.") from None
        # Always a download of opaque bytes: a stored HTML file must never render (and run
        # its script) on LinkFlow's own origin.
        response = FileResponse(
            handle, as_attachment=True, filename=filename, content_type="application/octet-stream"
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


def repeat_accepted(request: Request, repeat: operations.Repeat) -> Response:
    """202 with the new execution, what it reuses and what it runs."""
    response = accepted(request, repeat.execution)
    response.data = {
        **response.data,
        "reused_nodes": list(repeat.reused_nodes),
        "run_nodes": list(repeat.run_nodes),
    }
    return response


def accepted(request: Request, execution: Execution) -> Response:
    """202 with the queued execution and where to follow it."""
    location = request.build_absolute_uri(reverse("execution-detail", kwargs={"pk": execution.pk}))
    return Response(
        execution_out(execution),
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": location},
    )
