"""Every /api/v1/ route, in one place."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter
from rest_framework_simplejwt.views import TokenBlacklistView, TokenRefreshView

from billing.api.views import WorkspaceUsageView
from credentials.api.views import CredentialViewSet, OAuth2CallbackView
from executions.api.dead_letters import DeadLetterViewSet
from executions.api.test_loop import ExecutionDebugView, ExpressionPreviewView
from executions.api.views import ExecutionViewSet
from linkflow.accounts.api.api_keys import ApiKeyDetailView, ApiKeyListView
from linkflow.accounts.api.audit import AuditedTokenObtainPairView, AuditEventViewSet
from linkflow.accounts.api.views import MemberViewSet, WorkspaceViewSet
from workflows.api.node_types import NodeTypeListView
from workflows.api.testing import (
    PinnedDetailView,
    PinnedListView,
    WorkflowListenView,
    WorkflowTestPlanView,
    WorkflowTestView,
)
from workflows.api.views import WorkflowViewSet

# Integrators write `/execute` and `/execute/` alike; both must work.
router = SimpleRouter()
router.trailing_slash = "/?"
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("executions", ExecutionViewSet, basename="execution")
router.register("dead-letters", DeadLetterViewSet, basename="dead-letter")
router.register("workspaces", WorkspaceViewSet, basename="workspace")
router.register("credentials", CredentialViewSet, basename="credential")

urlpatterns = [
    # The throttled sign-in of accounts/auth_views.py, audited.
    path("auth/token/", AuditedTokenObtainPairView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    # {"refresh"}: that refresh token is refused from now on (sign out).
    path("auth/token/revoke/", TokenBlacklistView.as_view(), name="token-revoke"),
    path(
        "workspaces/<uuid:workspace_id>/api-keys/",
        ApiKeyListView.as_view(),
        name="workspace-api-key-list",
    ),
    path(
        "workspaces/<uuid:workspace_id>/api-keys/<uuid:key_id>/",
        ApiKeyDetailView.as_view(),
        name="workspace-api-key-detail",
    ),
    path(
        "workspaces/<uuid:workspace_id>/usage/",
        WorkspaceUsageView.as_view(),
        name="workspace-usage",
    ),
    path(
        "workspaces/<uuid:workspace_id>/members/",
        MemberViewSet.as_view({"get": "list", "post": "create"}),
        name="workspace-member-list",
    ),
    path(
        "workspaces/<uuid:workspace_id>/members/<uuid:user_id>/",
        MemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"}),
        name="workspace-member-detail",
    ),
    path(
        "workspaces/<uuid:workspace_id>/audit/",
        AuditEventViewSet.as_view({"get": "list"}),
        name="workspace-audit",
    ),
    path(
        "credentials/oauth2/callback",
        OAuth2CallbackView.as_view(),
        name="credential-oauth2-callback",
    ),
    path("node-types/", NodeTypeListView.as_view(), name="node-types"),
    # The editor's build-test loop (docs/editor-loop.md).
    re_path(
        r"^workflows/(?P<workflow_id>[^/.]+)/test/?$",
        WorkflowTestView.as_view(),
        name="workflow-test",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[^/.]+)/test/plan/?$",
        WorkflowTestPlanView.as_view(),
        name="workflow-test-plan",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[^/.]+)/listen/?$",
        WorkflowListenView.as_view(),
        name="workflow-listen",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[^/.]+)/pinned/?$",
        PinnedListView.as_view(),
        name="workflow-pinned",
    ),
    re_path(
        r"^workflows/(?P<workflow_id>[^/.]+)/pinned/(?P<node_id>[^/]+)/?$",
        PinnedDetailView.as_view(),
        name="workflow-pinned-node",
    ),
    re_path(
        r"^executions/(?P<execution_id>[^/.]+)/debug/?$",
        ExecutionDebugView.as_view(),
        name="execution-debug",
    ),
    re_path(r"^expressions/preview/?$", ExpressionPreviewView.as_view(), name="expression-preview"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (?script=), not inline: the page
    # keeps the UI's CSP, and Swagger UI comes from drf-spectacular-sidecar's static files.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("", include(router.urls)),
]
