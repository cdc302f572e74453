"""The worker's hot path does less per execution and keeps every guarantee while at it:
a claim that reads the row back, a graph cache that never serves an old version, one
heartbeat thread for every lease of a process, and the sync reply riding with the last
events in one Redis round trip without ever being sent twice or lost."""

import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.feeds import log, vocabulary
from executions.feeds.completion import _key, completion_wait
from executions.models import Execution, NodeRun
from executions.months import month_partitions
from executions.running.lease import Heartbeat, Lease, lease_claim
from executions.services import execution_run
from workflows.services import workflow_update

from ..conftest import require_services, wait_for
from ..executing import chain, personal_workflow, queued

SET_A = {"id": "a", "type": "data.set", "params": {"fields": {"which": "a"}}}
SET_B = {"id": "b", "type": "data.set", "params": {"fields": {"which": "b"}}}


@pytest.mark.django_db
def test_a_fresh_claim_takes_and_reads_the_execution_in_one_statement(owner):
    execution = queued(personal_workflow(owner, "w"), trigger_input={"n": 7})
    # A process looks its month's partitions up once (executions/months.py); after that
    # the claim is its one statement.
    month_partitions(timezone.now())

    with CaptureQueriesContext(connection) as queries:
        lease = lease_claim(execution_id=str(execution.pk))

    assert len(queries.captured_queries) == 1
    assert lease is not None and lease.fresh
    claimed = lease.execution
    assert (claimed.pk, claimed.status, claimed.lease_owner) == (
        execution.pk,
        "running",
        lease.owner,
    )
    assert claimed.trigger_input == {"n": 7}
    assert claimed.started_at is not None
    assert claimed.created_at == execution.created_at  # the NodeRuns' partition key
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.lease_owner) == ("running", lease.owner)
    # A second delivery of the same message finds it held by a live lease.
    assert lease_claim(execution_id=str(execution.pk)) is None


@pytest.mark.django_db
def test_a_test_run_is_never_claimed_as_fresh(owner):
    # A test run may start with pinned outputs recorded: it must resume from them.
    execution = queued(personal_workflow(owner, "w"), mode="test")

    lease = lease_claim(execution_id=str(execution.pk))

    assert lease is not None and not lease.fresh and lease.execution is None


@pytest.mark.django_db
def test_a_malformed_execution_id_is_not_claimed(owner):
    assert lease_claim(execution_id="not-a-uuid") is None


@pytest.mark.django_db
def test_an_edited_workflow_runs_its_new_version_not_a_cached_graph(owner):
    workflow = personal_workflow(owner, "w", chain(SET_A))
    first = queued(workflow)
    assert execution_run(execution_id=str(first.pk)) == "succeeded"  # caches version 1

    workflow_update(user=owner, workflow=workflow, changes={"graph": chain(SET_B)})
    second = queued(workflow)
    assert execution_run(execution_id=str(second.pk)) == "succeeded"

    def nodes(execution):
        return set(NodeRun.objects.filter(execution=execution).values_list("node_id", flat=True))

    assert nodes(first) == {"start", "a"}
    assert nodes(second) == {"start", "b"}
    assert Execution.objects.get(pk=second.pk).version_id != first.version_id


@pytest.mark.django_db
def test_every_noderun_of_a_run_is_written_with_its_values(owner):
    workflow = personal_workflow(owner, "w", chain(SET_A, SET_B))
    execution = queued(workflow, trigger_input={"n": 1})

    assert execution_run(execution_id=str(execution.pk)) == "succeeded"

    runs = list(NodeRun.objects.filter(execution=execution).order_by("sequence"))
    assert [(r.node_id, r.status, r.attempt, r.sequence) for r in runs] == [
        ("start", "succeeded", 1, 1),
        ("a", "succeeded", 1, 2),
        ("b", "succeeded", 1, 3),
    ]
    assert runs[2].input == [{"n": 1, "which": "a"}]
    assert runs[2].output == {"main": [{"n": 1, "which": "b"}]}
    assert all(r.execution_created_at == execution.created_at for r in runs)
    assert all(r.started_at <= r.finished_at for r in runs)


def lease_of(execution: Execution, owner: str) -> Lease:
    expires = timezone.now() + timedelta(seconds=settings.LINKFLOW_LEASE_SECONDS)
    Execution.objects.filter(pk=execution.pk).update(
        status="running", lease_owner=owner, lease_expires_at=expires
    )
    return Lease(execution_id=str(execution.pk), owner=owner, expires_at=expires, fresh=False)


@pytest.mark.django_db(transaction=True)
def test_one_thread_renews_every_live_lease_and_reports_the_lost_one(owner, settings):
    settings.LINKFLOW_LEASE_SECONDS = 1.5  # a beat every 0.5 s
    workflow = personal_workflow(owner, "w")
    kept, stolen = queued(workflow), queued(workflow)
    beats = [Heartbeat(lease_of(kept, "me:1:kept")), Heartbeat(lease_of(stolen, "me:1:stolen"))]
    before = {
        e.pk: e.lease_expires_at for e in Execution.objects.filter(pk__in=[kept.pk, stolen.pk])
    }
    for beat in beats:
        beat.start()
    try:
        wait_for(
            lambda: all(
                e.lease_expires_at > before[e.pk]
                for e in Execution.objects.filter(pk__in=[kept.pk, stolen.pk])
            ),
            what="both leases renewed",
        )
        assert sum(t.name == "lease-heartbeat" for t in threading.enumerate()) == 1

        Execution.objects.filter(pk=stolen.pk).update(lease_owner="another-host:2:thief")
        wait_for(lambda: beats[1].lost, what="the stolen lease noticed")
        renewed = Execution.objects.get(pk=kept.pk).lease_expires_at
        wait_for(
            lambda: Execution.objects.get(pk=kept.pk).lease_expires_at > renewed,
            what="the kept lease renewed again",
        )
        assert not beats[0].lost
    finally:
        for beat in beats:
            beat.stop()
    assert Execution.objects.get(pk=stolen.pk).lease_owner == "another-host:2:thief"


def test_the_reply_goes_once_with_the_events_even_when_redis_lost_the_script(db):
    require_services()
    redis_log = log._RedisLog(settings.REDIS_URL)
    execution_id = "00000000-0000-4000-8000-00000000beef"
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(_key(execution_id), *redis_log._keys(execution_id))
    event = vocabulary.event_build(
        type=vocabulary.EXECUTION_FINISHED,
        execution_id=execution_id,
        workspace_id="w",
        workflow_id="f",
    )
    # Redis restarted without its scripts: the EVALSHA of the batch fails once.
    client.script_flush()

    redis_log.publish([event], [(execution_id, {"status": "succeeded"})])

    assert completion_wait(execution_id=execution_id, timeout=5) == {"status": "succeeded"}
    assert client.llen(_key(execution_id)) == 0  # pushed once, not once per try
    last, logged = redis_log.read(execution_id)
    assert (last, [e["type"] for e in logged]) == (1, ["execution.finished"])
