"""The run view: one execution drawn on its graph, live."""

from django.urls import path
from django.views.generic import TemplateView

# Replaced by the real view as each page lands.
_building = TemplateView.as_view(template_name="building.html")

app_name = "runs"
urlpatterns = [
    path("executions/<uuid:pk>/", _building, name="detail"),
]
