"""Pages for credentials."""

from django.urls import path
from django.views.generic import TemplateView

# Replaced by the real view as each page lands.
_building = TemplateView.as_view(template_name="building.html")

app_name = "credentials"
urlpatterns = [
    path("credentials/", _building, name="list"),
]
