"""The engine's Graph of a workflow's current version: how the workflows app reads a graph.

Stored graphs were validated when their version was saved, so they parse; reading them
through ``Graph`` gives every reader the same defaults (ports, params, disabled).
"""

from linkflow.engine import Graph

from .models import Workflow

_EMPTY = Graph(nodes=())


def workflow_graph(workflow: Workflow) -> Graph:
    """The Graph of ``workflow.current_version`` as loaded; an empty one without a version."""
    version = workflow.current_version
    return Graph.from_dict(version.graph) if version is not None else _EMPTY
