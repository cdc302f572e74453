"""The engine's Graph of a workflow version, parsed once per process.

A WorkflowVersion's graph never changes once stored (an edit makes a new version), so a
worker keeps the parsed Graph of the versions it ran, by id, and an execution of a known
version costs neither the graph's JSON nor its parsing. Bounded: the least recently used
versions are dropped past ``_MAX_VERSIONS``.
"""

import threading
from collections import OrderedDict
from uuid import UUID

from linkflow.engine import Graph
from workflows.models import WorkflowVersion

_MAX_VERSIONS = 256
_graphs: OrderedDict[str, Graph] = OrderedDict()
_lock = threading.Lock()


def version_graph(*, version_id: UUID | str) -> Graph:
    """The parsed graph of the version (one query the first time in this process)."""
    key = str(version_id)
    with _lock:
        graph = _graphs.get(key)
        if graph is not None:
            _graphs.move_to_end(key)
            return graph
    raw = WorkflowVersion.objects.values_list("graph", flat=True).get(pk=version_id)
    graph = Graph.from_dict(raw)
    with _lock:
        _graphs[key] = graph
        while len(_graphs) > _MAX_VERSIONS:
            _graphs.popitem(last=False)
    return graph
