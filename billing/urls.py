"""The usage page."""

from django.urls import path
from django.views.generic import TemplateView

# Replaced by the real view as each page lands.
_building = TemplateView.as_view(template_name="building.html")

app_name = "billing"
urlpatterns = [
    path("usage/", _building, name="usage"),
]
