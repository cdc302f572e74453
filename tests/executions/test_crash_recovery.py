"""A worker killed with SIGKILL mid-execution: another worker finishes it, and no node that
already succeeded runs again."""

import signal
import time

from django.db.models import Count

from executions.maintenance.recovery import executions_requeue_stale
from executions.models import Execution, NodeRun

from ..conftest import wait_for
from ..executing import chain, create_workflow, execute, wait_status
from ..http_server import orders_server

LEASE = "2"  # seconds: a dead worker's lease runs out quickly in this test


def ten_nodes(base: str) -> dict:
    steps = [
        {"id": f"n{i}", "type": "data.set", "params": {"fields": {f"f{i}": i}}} for i in range(1, 5)
    ]
    steps.append(
        {"id": "slow", "type": "http.request", "params": {"url": f"{base}/slow?seconds=3"}}
    )
    steps += [
        {"id": f"m{i}", "type": "data.set", "params": {"fields": {f"g{i}": i}}} for i in range(1, 5)
    ]
    return chain(*steps)  # trigger + 4 + slow + 4 = 10 nodes


def test_a_killed_workers_execution_is_finished_by_another_without_repeating_nodes(
    start_worker, api
):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        doomed = start_worker(beat=False, LINKFLOW_LEASE_SECONDS=LEASE)
        execution_id = execute(api, create_workflow(api, ten_nodes(base)))
        # The slow call is in flight once the server saw it; the nodes before it are recorded.
        wait_for(lambda: any("/slow" in hit for hit in server.hits), what="the slow call")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        recorded_before = set(
            NodeRun.objects.filter(execution_id=execution_id).values_list("node_id", flat=True)
        )

        start_worker(beat=False, LINKFLOW_LEASE_SECONDS=LEASE)
        time.sleep(int(LEASE) + 0.5)  # let the dead worker's lease expire
        assert executions_requeue_stale() == 1  # what the beat does every 30 s
        status = wait_status(execution_id, timeout=30)

    assert recorded_before == {"start", "n1", "n2", "n3", "n4"}
    assert status == "succeeded"
    execution = Execution.objects.get(pk=execution_id)
    assert execution.finished_at is not None
    succeeded = (
        NodeRun.objects.filter(execution_id=execution_id, status="succeeded")
        .values("node_id")
        .annotate(n=Count("id"))
    )
    assert {row["node_id"]: row["n"] for row in succeeded} == {
        node: 1 for node in ["start", "n1", "n2", "n3", "n4", "slow", "m1", "m2", "m3", "m4"]
    }
    # only the node that was in flight ran twice
    assert sum(1 for hit in server.hits if "/slow" in hit) == 2
