"""``/api/v1/workspaces/{workspace_id}/api-keys/``: mint, list and revoke API keys.

Admins and owners only (checked by the services); signed-in people only, never a key or
an OAuth2 token, so a leaked key cannot mint itself successors.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from linkflow.core.api import validated
from linkflow.core.errors import NotFound
from linkflow.core.fields import StrictCharField

from ..api_keys import api_key_create, api_key_get, api_key_list, api_key_revoke
from ..http import api_caller
from ..models import ApiKey, Workspace
from ..scoping import SCOPES, SignedInPersonOnly


class ApiKeyInSerializer(serializers.Serializer[Any]):
    name = StrictCharField(max_length=150)
    # min_length documents minItems: 1 in the schema (allow_empty alone does not).
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(SCOPES)), allow_empty=False, min_length=1
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ApiKeyOutSerializer(serializers.ModelSerializer[ApiKey]):
    created_by = serializers.EmailField(source="created_by.email", read_only=True)

    class Meta:
        model = ApiKey
        fields: tuple[str, ...] = (
            "id",
            "name",
            "prefix",
            "scopes",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "created_by",
            "created_at",
        )
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeyOutSerializer):
    # The whole key, present in the creation response only: it is stored hashed.
    key = serializers.CharField(read_only=True)

    class Meta(ApiKeyOutSerializer.Meta):
        fields = (*ApiKeyOutSerializer.Meta.fields, "key")
        read_only_fields = fields


class ApiKeyListView(APIView):
    permission_classes = [IsAuthenticated, SignedInPersonOnly]

    @extend_schema(responses=ApiKeyOutSerializer(many=True))
    def get(self, request: Request, workspace_id: str) -> Response:
        keys = api_key_list(user=api_caller(request), workspace_id=workspace_id)
        return Response(ApiKeyOutSerializer(keys, many=True).data)

    @extend_schema(request=ApiKeyInSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request: Request, workspace_id: str) -> Response:
        body = validated(ApiKeyInSerializer(data=request.data))
        workspace = Workspace.objects.filter(pk=workspace_id).first()
        if workspace is None:
            raise NotFound("Workspace not found.")
        key, raw_key = api_key_create(user=api_caller(request), workspace=workspace, **body)
        key.key = raw_key  # type: ignore[attr-defined]
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    permission_classes = [IsAuthenticated, SignedInPersonOnly]

    @extend_schema(responses=ApiKeyOutSerializer)
    def get(self, request: Request, workspace_id: str, key_id: str) -> Response:
        key = api_key_get(user=api_caller(request), workspace_id=workspace_id, id=key_id)
        return Response(ApiKeyOutSerializer(key).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, workspace_id: str, key_id: str) -> Response:
        key = api_key_get(user=api_caller(request), workspace_id=workspace_id, id=key_id)
        api_key_revoke(user=api_caller(request), key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
