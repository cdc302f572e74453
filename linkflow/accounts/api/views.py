"""Workspaces and their members over the API. Permissions live in the services."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from linkflow.core.api import validated
from linkflow.core.errors import NotFound
from linkflow.core.schema import error_response

from .. import selectors, services
from ..http import api_caller
from ..models import Membership, Role, User, Workspace
from .serializers import (
    MemberAddSerializer,
    MemberOutSerializer,
    MemberRoleSerializer,
    WorkspaceInSerializer,
    WorkspaceOutSerializer,
)


class WorkspaceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Workspace],
):
    """``/api/v1/workspaces/``: the caller's workspaces, with the caller's role in each."""

    serializer_class = WorkspaceOutSerializer
    required_scopes = {"read": "workspaces:read", "write": "workspaces:write"}
    pagination_class = None

    def get_queryset(self) -> QuerySet[Workspace]:
        return selectors.workspace_list(user=api_caller(self.request))

    def get_object(self) -> Workspace:
        return selectors.workspace_get(user=api_caller(self.request), id=self.kwargs["pk"])

    @extend_schema(request=WorkspaceInSerializer, responses={201: WorkspaceOutSerializer})
    def create(self, request: Request) -> Response:
        data = validated(WorkspaceInSerializer(data=request.data))
        workspace = services.workspace_create(user=api_caller(request), name=data["name"])
        out = WorkspaceOutSerializer(workspace, context={"role": Role.OWNER})
        return Response(out.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WorkspaceInSerializer, responses=WorkspaceOutSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        """PATCH: the fields sent change; ``{}`` changes nothing and answers the workspace."""
        workspace = self.get_object()
        data = validated(WorkspaceInSerializer(data=request.data, partial=True))
        if "name" in data:
            workspace = services.workspace_rename(
                user=api_caller(request), workspace=workspace, name=data["name"]
            )
        return Response(WorkspaceOutSerializer(workspace).data)

    @extend_schema(responses={204: None, 409: error_response(409)})
    def destroy(self, request: Request, pk: str) -> Response:
        """409 ``personal_workspace`` for the caller's personal workspace."""
        services.workspace_delete(user=api_caller(request), workspace=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberViewSet(viewsets.GenericViewSet[Membership]):
    """``/api/v1/workspaces/{workspace_id}/members/[{user_id}/]``."""

    serializer_class = MemberOutSerializer
    required_scopes = {"read": "workspaces:read", "write": "workspaces:write"}
    pagination_class = None

    def _workspace(self) -> Workspace:
        return selectors.workspace_get(
            user=api_caller(self.request), id=self.kwargs["workspace_id"]
        )

    def _member(self, workspace: Workspace) -> User:
        return self._membership(workspace).user

    def _membership(self, workspace: Workspace) -> Membership:
        membership = (
            selectors.member_list(user=api_caller(self.request), workspace_id=workspace.pk)
            .filter(user_id=self.kwargs["user_id"])
            .first()
        )
        if membership is None:
            raise NotFound("Member not found.")
        return membership

    def list(self, request: Request, workspace_id: str) -> Response:
        members = selectors.member_list(user=api_caller(request), workspace_id=self._workspace().pk)
        return Response(MemberOutSerializer(members, many=True).data)

    @extend_schema(request=MemberAddSerializer, responses={201: MemberOutSerializer})
    def create(self, request: Request, workspace_id: str) -> Response:
        workspace = self._workspace()
        data = validated(MemberAddSerializer(data=request.data))
        membership = services.member_add(
            user=api_caller(request),
            workspace=workspace,
            email=data["email"],
            role=Role(data["role"]),
        )
        return Response(MemberOutSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberRoleSerializer, responses=MemberOutSerializer)
    def partial_update(self, request: Request, workspace_id: str, user_id: str) -> Response:
        """PATCH: ``{}`` changes nothing and answers the membership as it is."""
        workspace = self._workspace()
        current = self._membership(workspace)
        data = validated(MemberRoleSerializer(data=request.data, partial=True))
        # Without a role the current one is "set" again: the same checks, no change.
        membership = services.member_set_role(
            user=api_caller(request),
            workspace=workspace,
            member=current.user,
            role=Role(data.get("role", current.role)),
        )
        return Response(MemberOutSerializer(membership).data)

    @extend_schema(responses={204: None, 409: error_response(409)})
    def destroy(self, request: Request, workspace_id: str, user_id: str) -> Response:
        workspace = self._workspace()
        """409 ``last_owner`` when the member is the workspace's only owner."""
        services.member_remove(
            user=api_caller(request), workspace=workspace, member=self._member(workspace)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
