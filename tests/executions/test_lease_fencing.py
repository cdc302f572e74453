"""Fencing: a worker that lost its lease writes nothing more and calls nothing more.

Recovery takes an execution over by changing its lease owner; the worker that held it
may still be alive (a stalled heartbeat). Every write of a run and every start of a node
with outside effects checks the owner in the same transaction, so the old worker stops.
"""

from datetime import timedelta

from django.utils import timezone

from executions.maintenance.recovery import executions_requeue_stale
from executions.models import Execution, NodeRun

from ..conftest import wait_for
from ..executing import chain, create_workflow, execute, wait_status
from ..http_server import orders_server

THIEF = "another-host:1:recovered"


def held_then_second(base: str) -> dict:
    return chain(
        {"id": "held", "type": "http.request", "params": {"url": f"{base}/held"}},
        {"id": "tag", "type": "data.set", "params": {"fields": {"tagged": True}}},
        {"id": "second", "type": "http.request", "params": {"url": f"{base}/orders?user=2"}},
        {"id": "done", "type": "data.set", "params": {"fields": {"done": True}}},
    )


def test_a_worker_whose_lease_was_taken_over_writes_no_noderun_and_starts_no_outside_call(
    start_worker, api
):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        # One thread: a later execution runs only once this one's task has ended.
        start_worker(concurrency=1, beat=False)
        execution_id = execute(api, create_workflow(api, held_then_second(base)))
        wait_for(lambda: "/held" in server.hits, what="the held call")

        # given: recovery hands the execution to another worker while this one waits
        Execution.objects.filter(pk=execution_id).update(
            lease_owner=THIEF, lease_expires_at=timezone.now() + timedelta(hours=1)
        )
        # when: the held call answers and the old worker carries on
        server.release.set()
        barrier = execute(api, create_workflow(api, chain(), name="barrier"))
        assert wait_status(barrier) == "succeeded"

    # then: nothing after the takeover was recorded or called by the old worker
    recorded = set(
        NodeRun.objects.filter(execution_id=execution_id).values_list("node_id", flat=True)
    )
    assert recorded == {"start"}
    assert not any("/orders" in hit for hit in server.hits)
    execution = Execution.objects.get(pk=execution_id)
    assert (execution.status, execution.lease_owner) == ("running", THIEF)


def test_the_lease_stays_with_its_live_worker_through_many_short_lease_periods(start_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        start_worker(concurrency=2, beat=False, LINKFLOW_LEASE_SECONDS="3")
        execution_id = execute(api, create_workflow(api, held_then_second(base)))
        wait_for(lambda: "/held" in server.hits, what="the held call")
        owner = Execution.objects.get(pk=execution_id).lease_owner

        # Through four renewals (four lease periods' worth), recovery runs as the beat
        # would and finds nothing stale; the owner never changes.
        seen_owners, expiries, resent = set(), set(), 0

        def renewed_four_times() -> bool:
            nonlocal resent
            resent += executions_requeue_stale()
            row = Execution.objects.get(pk=execution_id)
            seen_owners.add(row.lease_owner)
            expiries.add(row.lease_expires_at)
            return len(expiries) >= 5

        wait_for(renewed_four_times, what="four lease renewals")
        server.release.set()
        status = wait_status(execution_id)

    assert status == "succeeded"
    assert seen_owners == {owner}
    assert resent == 0
    assert sum(1 for hit in server.hits if hit == "/held") == 1
    assert sum(1 for hit in server.hits if "/orders" in hit) == 1
