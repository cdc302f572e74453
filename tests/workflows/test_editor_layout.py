"""The editor's automatic layout: layers left to right, saved positions kept, never raises."""

from workflows.editor import LAYER_GAP, MARGIN, NODE_HEIGHT, NODE_WIDTH, ROW_GAP, graph_layout

COLUMN = NODE_WIDTH + LAYER_GAP
ROW = NODE_HEIGHT + ROW_GAP


def _graph(nodes, edges):
    return {
        "nodes": [{"id": n, "type": "flow.noop"} if isinstance(n, str) else n for n in nodes],
        "edges": [{"source": s, "target": t} for s, t in edges],
    }


def test_a_chain_is_laid_out_in_one_row_left_to_right():
    layout = graph_layout(_graph(["a", "b", "c"], [("a", "b"), ("b", "c")]))
    assert layout == {
        "a": {"x": MARGIN, "y": MARGIN},
        "b": {"x": MARGIN + COLUMN, "y": MARGIN},
        "c": {"x": MARGIN + 2 * COLUMN, "y": MARGIN},
    }


def test_a_node_sits_one_layer_right_of_its_deepest_parent():
    # a -> b -> d and a -> d: d goes after b, not next to it
    layout = graph_layout(_graph(["a", "b", "d"], [("a", "b"), ("b", "d"), ("a", "d")]))
    assert layout["d"]["x"] == MARGIN + 2 * COLUMN


def test_branches_stack_in_rows_and_children_follow_their_parents_rows():
    graph = _graph(
        ["start", "left", "right", "right_child", "left_child"],
        [("start", "left"), ("start", "right"), ("right", "right_child"), ("left", "left_child")],
    )
    layout = graph_layout(graph)
    assert [layout[n]["y"] for n in ("left", "right")] == [MARGIN, MARGIN + ROW]
    # listed in the other order, the children still line up with their own parents
    assert layout["left_child"]["y"] == layout["left"]["y"]
    assert layout["right_child"]["y"] == layout["right"]["y"]


def test_saved_positions_are_kept_and_only_the_others_are_placed():
    graph = _graph(
        [{"id": "a", "type": "trigger.manual", "position": {"x": 500, "y": 7.5}}, "b"],
        [("a", "b")],
    )
    assert graph_layout(graph) == {
        "a": {"x": 500, "y": 7.5},
        "b": {"x": MARGIN + COLUMN, "y": MARGIN},
    }


def test_a_cycle_or_odd_shapes_do_not_break_the_layout():
    graph = _graph(["a", "b"], [("a", "b"), ("b", "a")])
    graph["nodes"] += ["junk", {"no": "id"}]
    graph["edges"] += [{"source": "a"}, "junk", {"source": "a", "target": "ghost"}]
    layout = graph_layout(graph)
    assert set(layout) == {"a", "b"}
    assert graph_layout(None) == {} and graph_layout({"nodes": "x"}) == {}
