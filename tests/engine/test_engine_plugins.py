"""Plugins add node types through the `linkflow.nodes` entry point group."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from linkflow.engine import (
    Graph,
    NullObserver,
    RunContext,
    get_node_type,
    run_graph,
    validate_graph,
)
from linkflow.engine.registry import load_plugins, unregister

PLUGIN_MODULE = """
from linkflow.engine.registry import NodeType


class Shout(NodeType):
    type = "demo.shout"
    label = "Shout"
    description = "Upper-cases a field."
    pure = True
    params_schema = {
        "type": "object",
        "properties": {"field": {"type": "string"}},
        "required": ["field"],
        "additionalProperties": False,
    }

    def execute(self, ctx, items):
        field = ctx.param("field")
        return {"main": [{**item, field: str(item.get(field, "")).upper()} for item in items]}
"""


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[None]:
    """A real installed distribution: a module plus dist-info with entry_points.txt."""
    (tmp_path / "linkflow_demo_plugin.py").write_text(PLUGIN_MODULE)
    dist = tmp_path / "linkflow_demo_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: linkflow-demo-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [linkflow.nodes]
            demo.shout = linkflow_demo_plugin:Shout
            trigger.manual = linkflow_demo_plugin:Shout
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    yield
    sys.path.remove(str(tmp_path))
    sys.modules.pop("linkflow_demo_plugin", None)
    unregister("demo.shout")


def test_an_installed_plugin_adds_a_node_type_that_validates_and_runs(installed_plugin):
    added = load_plugins()
    raw = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "loud", "type": "demo.shout", "params": {"field": "name"}},
        ],
        "edges": [{"source": "start", "target": "loud"}],
    }

    assert added == ["demo.shout"]  # the built-in trigger.manual is not replaced
    assert validate_graph(raw) == []
    result = run_graph(
        Graph.from_dict(raw),
        context=RunContext(execution={"id": "e"}, trigger_input={"name": "ada"}),
        observer=NullObserver(),
    )
    assert result.outcomes["loud"].output == {"main": [{"name": "ADA"}]}
    assert get_node_type("trigger.manual").__module__ == "linkflow.engine.nodes.trigger"


def test_a_plugin_node_with_bad_params_is_rejected_at_save(installed_plugin):
    load_plugins()
    raw = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "loud", "type": "demo.shout", "params": {}},
        ],
        "edges": [{"source": "start", "target": "loud"}],
    }

    problems = validate_graph(raw)

    assert [(p.code, p.node_id) for p in problems] == [("node_params_invalid", "loud")]
