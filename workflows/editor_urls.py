"""Pages of the graph editor and the version history."""

from django.urls import path

from . import editor_views as views

app_name = "editor"
urlpatterns = [
    path("workflows/<uuid:pk>/edit/", views.edit, name="edit"),
    path("workflows/<uuid:pk>/edit/save/", views.save, name="save"),
    path("workflows/<uuid:pk>/edit/layout/", views.layout, name="layout"),
    path("workflows/<uuid:pk>/execute/", views.execute, name="execute"),
    path("workflows/<uuid:pk>/versions/", views.history, name="versions"),
    path("workflows/<uuid:pk>/versions/diff/", views.diff, name="diff"),
    path("workflows/<uuid:pk>/versions/<int:number>/restore/", views.restore, name="restore"),
]
