"""Django admin as LinkFlow's operator console: the stock site plus front-page panels.

Core knows no app: an app adds a panel from its ``AppConfig.ready`` with
``admin_panel_register`` (the executions app adds the fleet figures), and the index
template shows what each panel's function returns under the panel's name.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

# Panel name (the template's context variable) -> the function reading its figures.
_PANELS: dict[str, Callable[[], object]] = {}


def admin_panel_register(*, name: str, figures: Callable[[], object]) -> None:
    """Show ``figures()`` on the console's front page as ``name`` (read on every visit;
    registering a name again replaces it)."""
    _PANELS[name] = figures


class OperatorAdminSite(admin.AdminSite):
    site_header = "LinkFlow operations"
    site_title = "LinkFlow operations"
    index_title = "Operator console"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        panels = {name: figures() for name, figures in _PANELS.items()}
        return super().index(request, extra_context={**(extra_context or {}), **panels})
