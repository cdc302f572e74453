"""Checking what a graph refers to (credentials, other workflows) against the workspace.

On save only what is present is checked, so a draft or an imported workflow can be stored
before its credentials exist: a credential or workflow id that names nothing in this
workspace, or a credential of a type the node cannot use. Activation and execution also
refuse a node that needs a credential and has none (``ready=True``).

Another workspace's credential or workflow is reported exactly as a missing one (same code,
same message): the answer must not tell whether an id exists elsewhere.

Credentials live on a higher floor: the credentials app registers the lookup from its
AppConfig.ready() (``register_credential_types``).
"""

import uuid
from collections.abc import Iterable
from typing import Any, Protocol

from linkflow.core.errors import LinkflowError
from linkflow.engine import Problem
from linkflow.engine.references import CREDENTIAL, Reference, graph_references

from .error_codes import WorkflowErrorCode
from .models import Workflow


class CredentialTypes(Protocol):
    """(workspace id, credential ids) -> {id: type} for the ids that are credentials there."""

    def __call__(self, *, workspace_id: Any, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]: ...


_credential_types: CredentialTypes | None = None

CREDENTIAL_NOT_FOUND = "credential_not_found"
CREDENTIAL_TYPE_MISMATCH = "credential_type_mismatch"
CREDENTIAL_MISSING = "credential_missing"
WORKFLOW_NOT_FOUND = "workflow_not_found"


def register_credential_types(lookup: CredentialTypes) -> None:
    """Install how credential ids are read: the credentials app calls this once."""
    global _credential_types
    _credential_types = lookup


def references_check(*, workspace_id: Any, graph: Any, ready: bool) -> None:
    """Raise ``workflow_graph_invalid`` (400) listing every reference of ``graph`` (a valid
    graph) that does not hold in the workspace, each with its node id, field and code;
    with ``ready``, also every node that needs a credential and names none."""
    problems = references_problems(workspace_id=workspace_id, graph=graph, ready=ready)
    if problems:
        # The pages show only the message: it names each node and field too.
        said = "; ".join(f"node '{p.node_id}', {p.field}: {p.message}" for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise LinkflowError(
            WorkflowErrorCode.WORKFLOW_GRAPH_INVALID,
            f"The workflow graph has {len(problems)} problem(s): {said}{more}",
            details={"problems": [p.as_dict() for p in problems]},
        )


def references_problems(*, workspace_id: Any, graph: Any, ready: bool) -> list[Problem]:
    """The problems ``references_check`` raises, as a list (empty when all hold)."""
    references = graph_references(graph)
    credentials = _credentials(workspace_id, {r.value for r in references if _is(r, CREDENTIAL)})
    workflows = _workflows(workspace_id, {r.value for r in references if _is(r, "workflow")})
    problems = []
    for reference in references:
        if reference.kind == CREDENTIAL:
            problem = _credential_problem(reference, credentials, ready=ready)
        else:
            problem = None if reference.value in workflows else _workflow_problem(reference)
        if problem is not None:
            problems.append(problem)
    return problems


def _is(reference: Reference, kind: str) -> bool:
    return reference.kind == kind and reference.value is not None


def _credential_problem(
    reference: Reference, types: dict[str, str], *, ready: bool
) -> Problem | None:
    if reference.value is None:
        if ready and reference.needed:
            wanted = " or ".join(reference.accepts)
            message = f"This node needs a {wanted} credential before the workflow can run."
            return _problem(reference, CREDENTIAL_MISSING, message)
        return None
    found = types.get(reference.value)
    if found is None:
        return _problem(reference, CREDENTIAL_NOT_FOUND, "No credential with this id here.")
    if reference.accepts and found not in reference.accepts:
        wanted = ", ".join(reference.accepts)
        message = f"A {found} credential cannot be used here; use one of: {wanted}."
        return _problem(reference, CREDENTIAL_TYPE_MISMATCH, message)
    return None


def _workflow_problem(reference: Reference) -> Problem:
    return _problem(reference, WORKFLOW_NOT_FOUND, "No workflow with this id here.")


def _problem(reference: Reference, code: str, message: str) -> Problem:
    return Problem(code=code, message=message, node_id=reference.node_id, field=reference.field)


def _credentials(workspace_id: Any, ids: set[Any]) -> dict[str, str]:
    wanted = _uuids(ids)
    if not wanted:
        return {}
    if _credential_types is None:
        raise RuntimeError("no credential lookup registered (credentials app not ready)")
    found = _credential_types(workspace_id=workspace_id, ids=set(wanted.values()))
    return {text: found[value] for text, value in wanted.items() if value in found}


def _workflows(workspace_id: Any, ids: set[Any]) -> set[str]:
    wanted = _uuids(ids)
    if not wanted:
        return set()
    rows = Workflow.objects.filter(workspace_id=workspace_id, pk__in=set(wanted.values()))
    found = set(rows.values_list("pk", flat=True))
    return {text for text, value in wanted.items() if value in found}


def _uuids(ids: Iterable[Any]) -> dict[str, uuid.UUID]:
    """The ids that are UUIDs, as typed: anything else names nothing (and must not reach
    a uuid column, where PostgreSQL would refuse the query)."""
    parsed = {}
    for text in ids:
        try:
            parsed[text] = uuid.UUID(str(text))
        except ValueError:
            continue
    return parsed


def credentials_unknown_dropped(*, workspace_id: Any, graph: Any) -> Any:
    """A copy of ``graph`` (any shape) whose nodes drop a ``credential`` that is not a
    credential of the workspace: an imported document names its source's credentials,
    which mean nothing here, and the node is then saved as a draft without one. The copy
    is ``graph`` itself when nothing is dropped."""
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if not isinstance(nodes, list):
        return graph
    named = {n["credential"] for n in nodes if isinstance(n, dict) and _named(n)}
    known = _credentials(workspace_id, named)
    if named <= set(known):
        return graph
    kept = [
        {k: v for k, v in n.items() if k != CREDENTIAL}
        if isinstance(n, dict) and _named(n) and n[CREDENTIAL] not in known
        else n
        for n in nodes
    ]
    return {**graph, "nodes": kept}


def _named(node: dict[str, Any]) -> bool:
    return isinstance(node.get(CREDENTIAL), str) and bool(node[CREDENTIAL])
