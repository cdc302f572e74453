from django.contrib import admin
from django.urls import include, path

from linkflow.core import views as core_views
from workflows import webhooks

urlpatterns = [
    path("", core_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("linkflow.api_v1")),
    path(
        "webhooks/w/<uuid:workspace_id>/<path:path>",
        webhooks.webhook_by_path,
        name="webhook-path",
    ),
    path("webhooks/<str:token>", webhooks.webhook_by_token, name="webhook"),
    path("webhooks/<str:token>/", webhooks.webhook_by_token),
]

handler404 = core_views.not_found
handler500 = core_views.server_error
