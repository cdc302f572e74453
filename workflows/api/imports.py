"""The import endpoint's body: which importer a document goes to, and the answer."""

from typing import Any

from rest_framework.request import Request

from linkflow.accounts.http import api_caller
from linkflow.accounts.models import Workspace

from .. import services
from ..importers.n8n import looks_like_n8n
from ..importers.service import workflows_import_n8n
from .serializers import WorkflowOutSerializer


def import_documents(
    request: Request, *, workspace: Workspace, document: Any, format: str | None
) -> dict[str, Any]:
    """Import ``document`` as ``format`` (None: n8n when it looks like an n8n export or a
    list of them); the answer body of POST /workflows/import."""
    is_list = isinstance(document, list)
    if format is None:
        first = document[0] if is_list and document else document
        format = "n8n" if looks_like_n8n(first) else "linkflow"
    context = {"request": request}
    if format == "linkflow":
        workflow = services.workflow_import(
            user=api_caller(request), workspace=workspace, document=document
        )
        return {"workflow": WorkflowOutSerializer(workflow, context=context).data, "report": None}
    imported = workflows_import_n8n(
        user=api_caller(request), workspace=workspace, documents=document if is_list else [document]
    )
    if not is_list:
        return {
            "workflow": WorkflowOutSerializer(imported[0].workflow, context=context).data,
            "report": imported[0].report,
        }
    return {
        "workflows": [WorkflowOutSerializer(i.workflow, context=context).data for i in imported],
        "reports": [i.report for i in imported],
    }
