"""The usage page: the plan's limits against current use, and daily executions."""

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from linkflow.accounts.http import WorkspaceHttpRequest
from linkflow.accounts.web import page

from .chart import daily_chart
from .usage import usage_report

_LIMIT_LABELS = {
    "executions_per_month": "Executions this month",
    "concurrent_executions": "Concurrent executions",
    "active_workflows": "Active workflows",
}
_LIMIT_HELP = {
    "executions_per_month": "Every execution created this calendar month (UTC) counts.",
    "concurrent_executions": "Queued and running now; waiting ones do not count.",
    "active_workflows": "Workflows whose triggers are live.",
}


@require_GET
@page()
def usage_page(request: WorkspaceHttpRequest) -> HttpResponse:
    """Any member may see the workspace's usage (as over the API)."""
    report = usage_report(workspace_id=request.workspace.pk)
    context = {
        "report": report,
        "limits": [_limit(name, used) for name, used in report["limits"].items()],
        "chart": daily_chart(report["daily"]),
    }
    return render(request, "billing/usage.html", context)


def _limit(name: str, used: dict[str, Any]) -> dict[str, Any]:
    allowed, current = used["allowed"], used["current"]
    share = min(current / allowed, 1.0) if allowed else 0.0
    level = "full" if allowed is not None and current >= allowed else "high" if share >= 0.8 else ""
    return {
        "name": name,
        "label": _LIMIT_LABELS.get(name, name.replace("_", " ").capitalize()),
        "help": _LIMIT_HELP.get(name, ""),
        "allowed": allowed,
        "current": current,
        "percent": round(share * 100),
        "level": level,
    }
