"""Every /api/v1/ route, in one place."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from executions.api.views import ExecutionViewSet
from workflows.api.node_types import NodeTypeListView
from workflows.api.views import WorkflowViewSet

# Integrators write `/execute` and `/execute/` alike; both must work.
router = SimpleRouter()
router.trailing_slash = "/?"
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("executions", ExecutionViewSet, basename="execution")

urlpatterns = [
    path("auth/token/", TokenObtainPairView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("node-types/", NodeTypeListView.as_view(), name="node-types"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include(router.urls)),
]
