"""The readers every app uses on a stored graph: nodes of a type, a node by id."""

from linkflow.engine import Graph


def stored(*nodes: dict[str, object]) -> Graph:
    return Graph.from_dict({"nodes": list(nodes), "edges": []})


def test_nodes_of_type_leaves_disabled_nodes_out_and_keeps_the_stored_order() -> None:
    graph = stored(
        {"id": "b", "type": "trigger.schedule", "params": {"cron": "0 * * * *"}},
        {"id": "a", "type": "trigger.poll", "disabled": True},
        {"id": "c", "type": "flow.noop"},
        {"id": "d", "type": "trigger.poll"},
    )

    enabled = graph.nodes_of_type("trigger.schedule", "trigger.poll")
    every = graph.nodes_of_type("trigger.schedule", "trigger.poll", include_disabled=True)

    assert [node.id for node in enabled] == ["b", "d"]
    assert [(node.id, node.disabled) for node in every] == [("b", False), ("a", True), ("d", False)]
    assert enabled[0].params == {"cron": "0 * * * *"}


def test_nodes_of_type_fills_in_what_a_stored_node_leaves_out() -> None:
    (node,) = stored({"id": "hook", "type": "trigger.webhook"}).nodes_of_type("trigger.webhook")

    assert (node.params, node.credential, node.disabled, node.version) == ({}, None, False, 1)


def test_find_answers_none_for_an_id_the_graph_does_not_have() -> None:
    graph = stored({"id": "a", "type": "flow.noop", "name": "First"})

    found = graph.find("a")
    assert found is graph.node("a")
    assert found is not None and found.name == "First"
    assert graph.find("gone") is None
