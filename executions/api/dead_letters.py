"""/api/v1/dead-letters/: failed jobs, for workspace owners and admins (and staff)."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from executions.maintenance import dead_letters
from executions.models import DeadLetter, DeadLetterStatus
from linkflow.accounts.http import api_caller
from linkflow.core.api import CreatedCursorPagination, validated_query


class DeadLetterFilterSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=DeadLetterStatus.choices, required=False)


class DeadLetterOutSerializer(serializers.ModelSerializer[DeadLetter]):
    workspace = serializers.UUIDField(source="workspace_id", allow_null=True)
    execution = serializers.UUIDField(source="execution_id", allow_null=True)

    class Meta:
        model = DeadLetter
        fields = (
            "id",
            "workspace",
            "execution",
            "task_name",
            "task_id",
            "args",
            "kwargs",
            "error",
            "traceback",
            "attempts",
            "first_failed_at",
            "last_failed_at",
            "status",
            "resolved_at",
        )
        read_only_fields = fields


class DeadLetterPagination(CreatedCursorPagination):
    ordering = ("-last_failed_at", "-id")


@extend_schema(parameters=[DeadLetterFilterSerializer])
class DeadLetterViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[DeadLetter]
):
    serializer_class = DeadLetterOutSerializer
    pagination_class = DeadLetterPagination

    def get_queryset(self) -> QuerySet[DeadLetter]:
        filters = validated_query(DeadLetterFilterSerializer, self.request)
        return dead_letters.dead_letter_list(
            user=api_caller(self.request), status=filters.get("status")
        )

    def get_object(self) -> DeadLetter:
        return dead_letters.dead_letter_get(user=api_caller(self.request), id=self.kwargs["pk"])

    @extend_schema(request=None, responses=DeadLetterOutSerializer)
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str) -> Response:
        replayed = dead_letters.dead_letter_replay(dead_letter=self.get_object())
        return Response(DeadLetterOutSerializer(replayed).data)

    @extend_schema(request=None, responses=DeadLetterOutSerializer)
    @action(detail=True, methods=["post"])
    def discard(self, request: Request, pk: str) -> Response:
        discarded = dead_letters.dead_letter_discard(dead_letter=self.get_object())
        return Response(DeadLetterOutSerializer(discarded).data)
