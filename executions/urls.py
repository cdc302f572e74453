"""Pages for the execution list."""

from django.urls import path
from django.views.generic import TemplateView

# Replaced by the real view as each page lands.
_building = TemplateView.as_view(template_name="building.html")

app_name = "executions"
urlpatterns = [
    path("executions/", _building, name="list"),
]
