"""Import n8n workflows: convert each export and store it as a new, inactive workflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from linkflow.accounts.caller import Actor
from linkflow.accounts.models import Workspace
from linkflow.accounts.selectors import require_writer
from linkflow.core.errors import ErrorCode, LinkflowError
from workflows.models import Workflow
from workflows.pinned import pinned_put_many
from workflows.services import (
    _storable_check,
    _webhook_paths_taken,
    _without_webhook_paths,
    workflow_create,
)

from .n8n import DocumentError, convert, read_document

MAX_DOCUMENTS = 50
_DESCRIPTION_MAX = 10_000


@dataclass
class Imported:
    workflow: Workflow
    report: dict[str, Any]


def n8n_document_check(*, document: Any, field: str = "document") -> None:
    """Raise ``validation_error`` (400) naming ``<field>.<where>`` unless ``document`` is
    an n8n export of a storable shape."""
    try:
        read_document(document)
    except DocumentError as error:
        raise _invalid(
            f"{field}.{error.field}" if error.field != "document" else field, error.message
        ) from None
    _storable_check(document)


@transaction.atomic
def workflows_import_n8n(
    *, user: Actor, workspace: Workspace, documents: list[Any]
) -> list[Imported]:
    """Create one inactive workflow per n8n export in ``documents``, with its report.

    Children come first, so an Execute Workflow node whose child is in the same batch
    points to the child's new id. Sticky notes go into the description, positions into
    the layout; credentials are never imported (the report lists what each node needs).
    A webhook path already taken in the workspace is dropped (the node keeps its token
    URL). Raises NotFound/PermissionDenied unless the user may write in ``workspace``,
    ``validation_error`` (400) naming ``documents[i].<field>`` for a malformed export
    (nothing is stored then), and the errors of ``workflow_create``.
    """
    require_writer(user=user, workspace_id=workspace.id)
    if not documents or len(documents) > MAX_DOCUMENTS:
        raise _invalid("documents", f"Import 1 to {MAX_DOCUMENTS} workflows at once.")
    many = len(documents) > 1
    for index, document in enumerate(documents):
        n8n_document_check(document=document, field=f"documents[{index}]" if many else "document")
    order = _children_first(documents)
    workflow_ids: dict[str, str] = {}
    imported: dict[int, Imported] = {}
    for index in order:
        conversion = convert(documents[index], workflow_ids=workflow_ids)
        graph = conversion.graph
        if _webhook_paths_taken(workspace=workspace, graph=graph):
            graph = _without_webhook_paths(graph)
            conversion.report["workflow_notes"].append(
                "A webhook path was already taken in this workspace: the webhook answers on "
                "its token URL only."
            )
        workflow = workflow_create(
            user=user,
            workspace=workspace,
            name=conversion.name,
            description=_description(conversion.report),
            graph=graph,
            settings=conversion.settings,
        )
        Workflow.objects.filter(pk=workflow.pk).update(layout=conversion.layout)
        workflow.layout = conversion.layout
        if conversion.pinned:
            # n8n's pinned data becomes the workflow's (test runs use it, production never)
            pinned_put_many(user=user, workflow=workflow, outputs=conversion.pinned)
        if conversion.n8n_id:
            workflow_ids[conversion.n8n_id] = str(workflow.pk)
        conversion.report["workflow_id"] = str(workflow.pk)
        imported[index] = Imported(workflow, conversion.report)
    _link_error_workflows(documents, imported, workflow_ids)
    return [imported[index] for index in range(len(documents))]


def _link_error_workflows(
    documents: list[Any], imported: dict[int, Imported], workflow_ids: dict[str, str]
) -> None:
    """n8n's ``settings.errorWorkflow`` names an n8n workflow: when that one came in the
    same batch, it becomes the LinkFlow workflow's ``error_workflow``; else the report
    says to choose it."""
    for index, document in imported.items():
        settings = documents[index].get("settings") or {}
        wanted = settings.get("errorWorkflow") if isinstance(settings, dict) else None
        if not wanted:
            continue
        notes = document.report["workflow_notes"]
        target = workflow_ids.get(str(wanted))
        if target is None:
            notes.append(
                f"The error workflow (n8n id {wanted}) was not imported with it: import it "
                "and choose it in the workflow's settings."
            )
            continue
        Workflow.objects.filter(pk=document.workflow.pk).update(error_workflow_id=target)
        document.workflow.error_workflow_id = target
        notes.append("The error workflow is kept: the one imported with it.")


def _children_first(documents: list[Any]) -> list[int]:
    """Indexes of ``documents`` with every workflow after the ones it executes (original
    order otherwise; a cycle keeps the original order for its members)."""
    by_id = {
        str(doc.get("id")): index
        for index, doc in enumerate(documents)
        if isinstance(doc, dict) and doc.get("id") is not None
    }
    needs: dict[int, set[int]] = {index: set() for index in range(len(documents))}
    for index, doc in enumerate(documents):
        for node in doc.get("nodes") or []:
            if isinstance(node, dict) and str(node.get("type", "")).endswith(".executeWorkflow"):
                raw = (node.get("parameters") or {}).get("workflowId")
                ref = raw.get("value") if isinstance(raw, dict) else raw
                if str(ref) in by_id and by_id[str(ref)] != index:
                    needs[index].add(by_id[str(ref)])
    order: list[int] = []
    visiting: set[int] = set()

    def visit(index: int) -> None:
        if index in order or index in visiting:
            return
        visiting.add(index)
        for child in sorted(needs[index]):
            visit(child)
        visiting.discard(index)
        order.append(index)

    for index in range(len(documents)):
        visit(index)
    return order


def _description(report: dict[str, Any]) -> str:
    lines = ["Imported from n8n."]
    for note in report.get("notes") or []:
        content = str(note.get("content") or "").strip()
        if content:
            lines.append(f"Note ({note.get('name') or 'sticky note'}): {content}")
    return "\n\n".join(lines)[:_DESCRIPTION_MAX]


def _invalid(field: str, message: str) -> LinkflowError:
    return LinkflowError(
        ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", details={field: [message]}
    )
