"""Pages for the workflow list: create, duplicate, delete, import, export."""

from django.urls import path

from . import views

app_name = "workflows"
urlpatterns = [
    path("workflows/", views.workflow_list, name="list"),
    path("workflows/new/", views.workflow_new, name="new"),
    path("workflows/import/", views.workflow_import, name="import"),
    path("workflows/<uuid:pk>/", views.workflow_detail, name="detail"),
    path("workflows/<uuid:pk>/active/", views.workflow_toggle, name="toggle"),
    path("workflows/<uuid:pk>/duplicate/", views.workflow_duplicate, name="duplicate"),
    path("workflows/<uuid:pk>/delete/", views.workflow_delete, name="delete"),
    path("workflows/<uuid:pk>/export/", views.workflow_export, name="export"),
]
