"""LinkFlow's workflow engine: pure Python, no Django.

The host validates a stored graph (``validate_graph``), builds a ``Graph`` from it and calls
``run_graph`` with a ``RunContext`` and an ``Observer`` that records progress.
"""

from linkflow.engine.context import FileStore, Mailer, NodeContext, RunContext, SubworkflowRunner
from linkflow.engine.errors import ExpressionBoundError, ExpressionError, NodeError, Suspend
from linkflow.engine.graph import Edge, Graph, Node
from linkflow.engine.observer import NullObserver, Observer
from linkflow.engine.outcomes import NodeOutcome
from linkflow.engine.registry import NodeType, get_node_type, node_types, register
from linkflow.engine.runner import RunResult, run_graph
from linkflow.engine.validation import Problem, node_settings_schema, validate_graph

__all__ = [
    "Edge",
    "ExpressionBoundError",
    "ExpressionError",
    "FileStore",
    "Graph",
    "Mailer",
    "Node",
    "NodeContext",
    "NodeError",
    "NodeOutcome",
    "NodeType",
    "NullObserver",
    "Observer",
    "Problem",
    "RunContext",
    "RunResult",
    "SubworkflowRunner",
    "Suspend",
    "get_node_type",
    "node_settings_schema",
    "node_types",
    "register",
    "run_graph",
    "validate_graph",
]
