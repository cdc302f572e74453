"""Which nodes a re-run reuses when the version run differs from the one recorded."""

from linkflow.engine import Graph
from linkflow.engine.reruns import rerun_plan


def graph(*changes):  # type: ignore[no-untyped-def]
    """start -> fetch -> tag -> after, and start -> side (a branch of its own)."""
    raw = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "fetch", "type": "http.request", "params": {"url": "http://a/"}},
            {"id": "tag", "type": "data.set", "params": {"fields": {"t": 1}}},
            {"id": "after", "type": "flow.noop"},
            {"id": "side", "type": "flow.noop"},
        ],
        "edges": [
            {"source": "start", "target": "fetch"},
            {"source": "fetch", "target": "tag"},
            {"source": "tag", "target": "after"},
            {"source": "start", "target": "side"},
        ],
    }
    for change in changes:
        change(raw)
    return Graph.from_dict(raw)


ALL = ("start", "fetch", "tag", "after", "side")


def node(raw, node_id):  # type: ignore[no-untyped-def]
    return next(n for n in raw["nodes"] if n["id"] == node_id)


def plan(target, *, from_node="after", reusable=ALL):  # type: ignore[no-untyped-def]
    return rerun_plan(recorded=graph(), target=target, from_node=from_node, reusable=reusable)


def test_the_same_version_reuses_everything_upstream_of_the_start():
    result = plan(graph(), from_node="tag")

    assert result.reused == ("start", "fetch", "side")
    assert result.runs == ("tag", "after")


def test_a_node_with_other_params_runs_and_so_does_everything_after_it():
    def new_url(raw):  # type: ignore[no-untyped-def]
        node(raw, "fetch")["params"] = {"url": "http://b/"}

    result = plan(graph(new_url))

    assert result.reused == ("start", "side")
    assert result.runs == ("fetch", "tag", "after")


def test_another_credential_type_version_disabled_or_on_error_makes_a_node_run():
    changes = {
        "credential": lambda n: n.update(credential="other"),
        "version": lambda n: n.update(version=9),
        "disabled": lambda n: n.update(disabled=True),
        "on_error": lambda n: n.update(on_error="continue"),
        "type": lambda n: n.update(type="data.set"),
    }
    for name, change in changes.items():
        result = plan(graph(lambda raw, change=change: change(node(raw, "side"))))
        assert "side" in result.runs, name
        assert result.reused == ("start", "fetch", "tag"), name


def test_a_changed_incoming_edge_makes_its_target_run():
    def rewire(raw):  # type: ignore[no-untyped-def]
        raw["edges"][1] = {"source": "start", "target": "tag"}

    result = plan(graph(rewire))

    assert result.runs == ("tag", "after")
    assert result.reused == ("start", "fetch", "side")


def test_retry_and_timeout_settings_keep_a_recorded_output():
    def patient(raw):  # type: ignore[no-untyped-def]
        node(raw, "fetch").update(retry={"max_attempts": 3}, timeout_seconds=5)

    assert plan(graph(patient)).runs == ("after",)


def test_a_new_node_runs_and_a_node_without_a_recorded_output_runs():
    def added(raw):  # type: ignore[no-untyped-def]
        raw["nodes"].append({"id": "extra", "type": "flow.noop"})
        raw["edges"].append({"source": "side", "target": "extra"})

    assert plan(graph(added)).runs == ("after", "extra")
    assert plan(graph(), reusable=("start", "side")).runs == ("fetch", "tag", "after")


def test_a_retry_runs_every_node_in_execution_order():
    result = rerun_plan(recorded=graph(), target=graph(), from_node=None, reusable=ALL)

    assert (result.reused, result.runs) == ((), ("start", "fetch", "tag", "after", "side"))
