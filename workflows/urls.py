"""Pages for the workflow list: create, duplicate, delete, import, export."""

from django.urls import path
from django.views.generic import TemplateView

# Replaced by the real view as each page lands.
_building = TemplateView.as_view(template_name="building.html")

app_name = "workflows"
urlpatterns = [
    path("workflows/", _building, name="list"),
]
