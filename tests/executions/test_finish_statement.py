"""A finishing run's one statement (executions/running/finish_statement.py) on PostgreSQL: the
status, the NodeRuns and, only when executions wait for a slot, the workspace lock; the
promotion follows under that lock. What the lock no longer covers (an execution admitted
while a finish runs) is left to the beat's sweep, never lost."""

import threading

import pytest
from django.db import connection, transaction

from executions.models import Execution, NodeRun
from executions.running.lease import LeaseLost, lease_claim
from executions.running.recorder import ExecutionRecorder
from executions.services import execution_create, execution_run
from executions.starting.dispatch import dispatch_sweep
from linkflow.accounts.models import Workspace
from linkflow.engine import NodeOutcome, RunResult

from ..conftest import require_services
from ..executing import chain, personal_workflow

SET_A = {"id": "a", "type": "data.set", "params": {"fields": {"which": "a"}}}
WORKER_LOCK_TIMEOUT = "SET lock_timeout = '10s'"


def _admit(workflow) -> Execution:
    return execution_create(user=None, workflow=workflow, trigger_input={}, mode="manual")


def _status(execution: Execution) -> str:
    return Execution.objects.get(pk=execution.pk).status


@pytest.fixture
def one_slot(owner, settings):
    """A workflow whose workspace may have one execution dispatched at a time."""
    require_services()
    settings.LINKFLOW_DISPATCH_WINDOW = 1
    return personal_workflow(owner, "w", chain(SET_A))


@pytest.mark.django_db(transaction=True)
def test_a_finish_with_nothing_pending_takes_no_workspace_lock(one_slot):
    # given the only execution of the workspace, and another transaction holding the
    # workspace's row lock (a promotion under way elsewhere)
    execution = _admit(one_slot)
    assert _status(execution) == "queued"
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with transaction.atomic():
            Workspace.objects.select_for_update(no_key=True).filter(pk=one_slot.workspace_id).get()
            holding.set()
            release.wait()
        connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait()
    try:
        # when it runs to the end (a wait for that lock would fail after lock_timeout)
        with connection.cursor() as cursor:
            cursor.execute(WORKER_LOCK_TIMEOUT)
        status = execution_run(execution_id=str(execution.pk))
    finally:
        release.set()
        holder.join()
    # then it finished with every NodeRun written, without waiting for the lock
    assert status == "succeeded"
    assert _status(execution) == "succeeded"
    assert sorted(
        NodeRun.objects.filter(execution=execution).values_list("node_id", flat=True)
    ) == [
        "a",
        "start",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_finish_hands_its_slot_to_the_oldest_pending_execution_in_its_commit(one_slot):
    # given one execution holding the only slot and two waiting behind it
    running = _admit(one_slot)
    older, newer = _admit(one_slot), _admit(one_slot)
    assert [_status(e) for e in (running, older, newer)] == ["queued", "pending", "pending"]
    # when the first one finishes
    assert execution_run(execution_id=str(running.pk)) == "succeeded"
    # then the older waiting one was dispatched by that finish, and only it
    assert [_status(e) for e in (older, newer)] == ["queued", "pending"]
    assert Execution.objects.get(pk=older.pk).dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_execution_admitted_pending_during_a_finish_is_promoted_by_the_sweep(one_slot):
    # given the only execution of the workspace, claimed, and a finish of it whose
    # transaction is still open when another execution is admitted
    execution = _admit(one_slot)
    finished, admitted = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def finish_and_wait() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(WORKER_LOCK_TIMEOUT)
            with transaction.atomic():
                outcome["status"] = execution_run(execution_id=str(execution.pk))
                finished.set()
                admitted.wait()
        finally:
            finished.set()
            connection.close()

    worker = threading.Thread(target=finish_and_wait)
    worker.start()
    finished.wait()
    try:
        with connection.cursor() as cursor:
            cursor.execute(WORKER_LOCK_TIMEOUT)
        # the admission's own promotion still sees the finishing one holding the slot
        late = _admit(one_slot)
    finally:
        admitted.set()
        worker.join()
    assert outcome["status"] == "succeeded"
    assert _status(execution) == "succeeded"
    # then the finish, which saw nothing pending, did not promote it: it waits
    assert _status(late) == "pending"
    # and the beat's sweep gives it the freed slot
    assert dispatch_sweep() == 1
    assert _status(late) == "queued"


@pytest.mark.django_db(transaction=True)
def test_a_finish_that_lost_its_lease_writes_no_status_and_no_noderun(one_slot):
    # given a claimed execution whose lease another worker took over meanwhile
    execution = _admit(one_slot)
    lease = lease_claim(execution_id=str(execution.pk))
    assert lease is not None
    Execution.objects.filter(pk=execution.pk).update(lease_owner="another-worker")
    waiting = _admit(one_slot)
    recorder = ExecutionRecorder(execution=lease.execution, lease=lease)
    now = lease.execution.started_at
    recorder.node_finished(
        node_id="start",
        node_type="trigger.manual",
        attempt=1,
        input=[],
        outcome=NodeOutcome(status="succeeded", output={"main": [{}]}),
        started_at=now,
        finished_at=now,
    )
    result = RunResult(status="succeeded", outcomes={}, error=None, last_items=[])
    # when this run finishes anyway
    with recorder, pytest.raises(LeaseLost):
        recorder.finish(result)
    # then nothing of it was written and nothing was promoted on its behalf
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.lease_owner) == ("running", "another-worker")
    assert not NodeRun.objects.filter(execution=execution).exists()
    assert _status(waiting) == "pending"
