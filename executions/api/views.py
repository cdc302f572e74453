from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets

from linkflow.core.api import CreatedCursorPagination

from .. import selectors
from ..models import Execution
from .serializers import (
    ExecutionDetailOutSerializer,
    ExecutionFilterSerializer,
    ExecutionOutSerializer,
)


@extend_schema(parameters=[ExecutionFilterSerializer])
class ExecutionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = CreatedCursorPagination

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if self.action == "retrieve":
            return ExecutionDetailOutSerializer
        return ExecutionOutSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        filters = ExecutionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.execution_list(
            user=self.request.user,
            workflow_id=filters.validated_data.get("workflow"),
            status=filters.validated_data.get("status"),
        )

    def get_object(self) -> Execution:
        return selectors.execution_get(user=self.request.user, id=self.kwargs["pk"])
