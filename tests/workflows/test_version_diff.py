"""The diff of two workflow versions: nodes, edges and parameters added, removed, changed."""

from workflows.editor import version_diff

OLD = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "position": {"x": 0, "y": 0}},
        {
            "id": "tag",
            "type": "data.set",
            "params": {"fields": {"tier": "gold"}, "keep_only": True},
        },
        {"id": "gone", "type": "flow.noop"},
    ],
    "edges": [{"source": "start", "target": "tag"}, {"source": "tag", "target": "gone"}],
}
NEW = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "position": {"x": 90, "y": 0}},
        {"id": "tag", "type": "data.set", "name": "Tag", "params": {"fields": {"tier": "silver"}}},
        {"id": "check", "type": "flow.if", "params": {"condition": "{{ json.ok }}"}},
    ],
    "edges": [
        {"source": "start", "target": "tag"},
        {"source": "tag", "target": "check"},
        {"source": "check", "target": "tag", "output": "true"},
    ],
}


def test_diff_lists_nodes_edges_and_parameters_that_changed():
    diff = version_diff(OLD, NEW)
    assert [n["id"] for n in diff["nodes_added"]] == ["check"]
    assert [n["id"] for n in diff["nodes_removed"]] == ["gone"]
    assert diff["nodes_changed"] == [
        {
            "id": "tag",
            "type": "data.set",
            "changes": [
                {"field": "name", "old": None, "new": "Tag"},
                {"field": "params.fields", "old": {"tier": "gold"}, "new": {"tier": "silver"}},
                {"field": "params.keep_only", "old": True, "new": None},
            ],
        }
    ]
    assert diff["nodes_moved"] == ["start"]
    assert diff["edges_added"] == [
        {"source": "tag", "target": "check"},
        {"source": "check", "target": "tag", "output": "true"},
    ]
    assert diff["edges_removed"] == [{"source": "tag", "target": "gone"}]
    assert diff["same"] is False


def test_edges_differ_by_port_and_main_is_the_default_port():
    a = {"nodes": [], "edges": [{"source": "x", "target": "y"}]}
    b = {"nodes": [], "edges": [{"source": "x", "target": "y", "output": "main"}]}
    c = {"nodes": [], "edges": [{"source": "x", "target": "y", "output": "false"}]}
    assert version_diff(a, b)["same"] is True
    assert version_diff(a, c)["edges_added"] == [{"source": "x", "target": "y", "output": "false"}]


def test_identical_graphs_are_the_same_and_junk_does_not_raise():
    assert version_diff(OLD, OLD)["same"] is True
    assert version_diff(None, {"nodes": [1, {"id": 2}], "edges": "x"})["same"] is True
    assert [n["id"] for n in version_diff({}, OLD)["nodes_added"]] == ["start", "tag", "gone"]
