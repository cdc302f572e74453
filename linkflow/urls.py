from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from oauth2_provider import urls as oauth2_urls

from executions.pages import wait_views
from linkflow.accounts.views import SignInView
from linkflow.core import health
from linkflow.core import views as core_views
from workflows import webhooks

# The OAuth2 provider's endpoints LinkFlow serves: the authorization-code flow, revocation,
# introspection, and the signed-in user's applications and authorised tokens.
_OAUTH2_BASE = {"authorize", "token", "revoke-token", "introspect"}
oauth2_patterns = [p for p in oauth2_urls.base_urlpatterns if p.name in _OAUTH2_BASE]
oauth2_patterns += oauth2_urls.management_urlpatterns

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("linkflow.api_v1")),
    path("oauth/", include((oauth2_patterns, "oauth2_provider"))),
    # Signing in for the web UI and browser flows (OAuth2 consent).
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The web UI: each app's pages.
    path("", include("linkflow.accounts.urls")),
    path("", include("workflows.urls")),
    path("", include("workflows.editor_urls")),
    path("", include("executions.pages.urls")),
    path("", include("executions.pages.run_urls")),
    path("", include("credentials.urls")),
    path("", include("billing.urls")),
    # Test URLs first: they answer only while someone listens (workflows/listening.py).
    path(
        "webhooks/test/w/<uuid:workspace_id>/<path:path>",
        webhooks.webhook_test_by_path,
        name="webhook-test-path",
    ),
    path("webhooks/test/<str:token>", webhooks.webhook_test_by_token, name="webhook-test"),
    path("webhooks/test/<str:token>/", webhooks.webhook_test_by_token),
    path(
        "webhooks/w/<uuid:workspace_id>/<path:path>",
        webhooks.webhook_by_path,
        name="webhook-path",
    ),
    path("webhooks/wait/<str:token>", wait_views.resume_call, name="wait-resume"),
    path("wait/<str:token>/<str:decision>/", wait_views.decide, name="wait-decide"),
    path("webhooks/<str:token>", webhooks.webhook_by_token, name="webhook"),
    path("webhooks/<str:token>/", webhooks.webhook_by_token),
]

handler404 = core_views.not_found
handler500 = core_views.server_error
