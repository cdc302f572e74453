"""The audit log over the API, and the audited JWT sign-in.

Here, not in the audit app: reading the log needs accounts' roles, and the audit app is a
floor below accounts (every app writes to it).
"""

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from linkflow.audit.context import request_ip
from linkflow.audit.models import AuditEvent
from linkflow.audit.services import audit_record
from linkflow.core.api import CreatedCursorPagination

from ..auth_views import ThrottledTokenObtainPairView
from ..http import api_caller
from ..selectors import audit_list


class AuditEventOutSerializer(serializers.ModelSerializer[AuditEvent]):
    actor_email = serializers.EmailField(source="actor.email", default=None, read_only=True)

    class Meta:
        model = AuditEvent
        fields = (
            "id",
            "created_at",
            "action",
            "actor",
            "actor_email",
            "target_type",
            "target_id",
            "data",
            "ip",
        )
        read_only_fields = fields


class AuditEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[AuditEvent]):
    """``GET /api/v1/workspaces/{id}/audit/?action=``: admins and owners only."""

    serializer_class = AuditEventOutSerializer
    required_scopes = {"read": "workspaces:read"}
    pagination_class = CreatedCursorPagination

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_list(
            user=api_caller(self.request),
            workspace_id=self.kwargs["workspace_id"],
            action=self.request.query_params.get("action", ""),
        )


class AuditedTokenObtainPairView(ThrottledTokenObtainPairView):
    """The JWT sign-in (throttled), recording each successful one in the audit log."""

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        # Kept so post() knows who signed in once the pair is issued.
        self._sign_in = super().get_serializer(*args, **kwargs)
        return self._sign_in

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().post(request, *args, **kwargs)
        user = getattr(getattr(self, "_sign_in", None), "user", None)
        if response.status_code == 200 and user is not None:
            audit_record(
                action="user.sign_in",
                actor=user,
                target=user,
                data={"method": "jwt"},
                ip=request_ip(request),
            )
        return response
