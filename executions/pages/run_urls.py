"""The run view: one execution drawn on its graph, live."""

from django.urls import path

from executions.pages import run_views as views

app_name = "runs"
urlpatterns = [
    path("executions/<uuid:pk>/", views.detail, name="detail"),
    path("executions/<uuid:pk>/nodes/<str:node_id>/", views.node, name="node"),
    path("executions/<uuid:pk>/cancel/", views.cancel, name="cancel"),
    path("executions/<uuid:pk>/retry/", views.retry, name="retry"),
    path("executions/<uuid:pk>/rerun/", views.rerun, name="rerun"),
]
