"""The hard limit: a node holding the GIL in C cannot keep a prefork worker for ever.

A test-only node (installed as a real plugin, through the `linkflow.nodes` entry point)
runs `sum()` over lists in C: no bytecode runs, so neither the child's heartbeat thread
nor any signal handler gets the GIL. The worker's main process keeps the lease while the
child lives, kills the child at the hard time limit and fails the execution with that
reason; a control execution submitted meanwhile runs in another child and succeeds.
"""

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from executions.maintenance.recovery import executions_requeue_stale
from executions.models import DeadLetter, Execution
from linkflow.engine.registry import register, unregister

from ..conftest import wait_for
from ..executing import chain, create_workflow, execute, wait_status
from ..http_server import orders_server

HOG_MODULE = '''
from pathlib import Path

from linkflow.engine.registry import NodeType


class Hog(NodeType):
    """Marks that it started, then holds the GIL in C far longer than any limit."""

    type = "test.hog"
    label = "Hog"
    description = "Holds the GIL."
    params_schema = {
        "type": "object",
        "properties": {"marker": {"type": "string"}},
        "required": ["marker"],
        "additionalProperties": False,
    }

    def execute(self, ctx, items):
        Path(ctx.params["marker"]).write_text("started")
        total = sum([[0] * 1000] * 100_000, [])  # quadratic list concatenation, all in C
        return {"main": [{"length": len(total)}]}
'''


@pytest.fixture
def hog_plugin(tmp_path: Path) -> Iterator[Path]:
    """The plugin as an installed distribution on a directory the worker gets on its path."""
    (tmp_path / "linkflow_hog_plugin.py").write_text(HOG_MODULE)
    dist = tmp_path / "linkflow_hog_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: linkflow-hog-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [linkflow.nodes]
            test.hog = linkflow_hog_plugin:Hog
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    # This process validates the graph on save, so it knows the type too.
    register("test.hog", importlib.import_module("linkflow_hog_plugin").Hog)
    yield tmp_path
    unregister("test.hog")
    sys.path.remove(str(tmp_path))
    sys.modules.pop("linkflow_hog_plugin", None)


def pid_of(owner: str) -> str:
    return owner.split(":")[1]


def test_a_node_holding_the_gil_is_killed_at_the_hard_limit_and_fails_while_others_run(
    start_worker, api, hog_plugin
):
    marker = hog_plugin / "hog-started"
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        start_worker(
            pool="prefork",
            concurrency=2,
            beat=False,
            PYTHONPATH=str(hog_plugin),
            # Far shorter than the hard limit: without the main process keeping the
            # lease, it would run out while the child is frozen and be handed over.
            LINKFLOW_LEASE_SECONDS="2",
            LINKFLOW_WORKER_TIME_LIMIT_SECONDS="12",
            LINKFLOW_WORKER_SOFT_TIME_LIMIT_SECONDS="10",
        )
        hog_graph = chain({"id": "hog", "type": "test.hog", "params": {"marker": str(marker)}})
        hog = execute(api, create_workflow(api, hog_graph, name="hog"))
        wait_for(marker.exists, what="the hog node to start")
        hog_owner = Execution.objects.get(pk=hog).lease_owner

        # A control execution submitted meanwhile: held at the stub so its owner shows.
        control_graph = chain(
            {"id": "held", "type": "http.request", "params": {"url": f"{base}/held"}}
        )
        control = execute(api, create_workflow(api, control_graph, name="control"))
        wait_for(lambda: "/held" in server.hits, what="the control's call")
        control_owner = Execution.objects.get(pk=control).lease_owner
        server.release.set()
        assert wait_status(control) == "succeeded"

        # Until the hard limit ends it, recovery runs as the beat would and the hog's
        # lease never changes hands.
        hog_owners: set[str] = set()

        def hog_finished() -> str | None:
            executions_requeue_stale()
            row = Execution.objects.get(pk=hog)
            hog_owners.add(row.lease_owner)
            return row.status if row.status in ("succeeded", "failed", "cancelled") else None

        status = wait_for(hog_finished, timeout=90, what="the hard limit to end the hog")

    assert pid_of(control_owner) != pid_of(hog_owner)
    assert status == "failed"
    hog_row = Execution.objects.get(pk=hog)
    assert hog_row.error["code"] == "worker_time_limit"
    assert "time limit (12 s)" in hog_row.error["message"]
    assert hog_owners - {""} == {hog_owner}
    assert hog_row.lost_leases == 0
    # not a job to replay (it would only be killed again)
    assert not DeadLetter.objects.exists()
