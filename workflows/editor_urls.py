"""Pages of the graph editor and the version history."""

from django.urls import path
from django.views.generic import TemplateView

# Replaced by the real view as each page lands.
_building = TemplateView.as_view(template_name="building.html")

app_name = "editor"
urlpatterns = [
    path("workflows/<uuid:pk>/edit/", _building, name="edit"),
]
