"""Pages for accounts and workspaces: sign-up, passwords, members, API keys."""

from django.urls import path
from django.views.generic import TemplateView

from . import web

# Replaced by the real view as each page lands.
_building = TemplateView.as_view(template_name="building.html")

app_name = "accounts"
urlpatterns = [
    path("workspace/switch/", web.workspace_switch, name="workspace_switch"),
    path("workspace/members/", _building, name="members"),
    path("settings/api-keys/", _building, name="api_keys"),
    path("accounts/signup/", _building, name="signup"),
    path("accounts/password/change/", _building, name="password_change"),
    path("accounts/password/reset/", _building, name="password_reset"),
]
