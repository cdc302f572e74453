"""Django admin as LinkFlow's operator console: the stock site plus a front-page panel."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse


class OperatorAdminSite(admin.AdminSite):
    site_header = "LinkFlow operations"
    site_title = "LinkFlow operations"
    index_title = "Operator console"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        # Imported here: the admin site is built while apps load, before models are ready.
        from executions.console import console_figures

        context = {**(extra_context or {}), "console": console_figures()}
        return super().index(request, extra_context=context)
