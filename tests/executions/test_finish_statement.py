"""A finishing run's one statement (executions/running/finish_statement.py) on PostgreSQL, and
the hand-off of slots after commit (executions/starting/dispatch.py, linkflow_dispatch):
neither a finish nor an admission waits for the workspace lock unless something is pending
and a slot is free, and a pending execution and a freed slot never miss each other."""

import threading

import pytest
from django.db import connection, transaction

from executions.models import Execution, NodeRun
from executions.running.lease import LeaseLost, lease_claim
from executions.running.recorder import ExecutionRecorder
from executions.services import execution_create, execution_run
from linkflow.accounts.models import Workspace
from linkflow.engine import RunResult

from ..conftest import require_services
from ..executing import chain, personal_workflow, trigger_recorded

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


def _holding_the_workspace_lock(workspace_id):
    """A thread holding the workspace's row lock (a promotion under way elsewhere) until
    the returned event is set; the thread is returned to be joined."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            Workspace.objects.select_for_update(no_key=True).filter(pk=workspace_id).get()
            holding.set()
            release.wait()
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    return holder, release


@pytest.mark.django_db(transaction=True)
def test_an_admission_with_no_free_slot_waits_pending_without_the_workspace_lock(one_slot):
    # given the workspace's only slot held, and another transaction holding its row lock
    running = _admit(one_slot)
    holder, release = _holding_the_workspace_lock(one_slot.workspace_id)
    try:
        # when another execution is admitted (a wait for that lock fails after 2 s)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        late = _admit(one_slot)
    finally:
        release.set()
        holder.join()
    # then it was admitted pending at once, and the finish of the first one sends it
    assert late.status == "pending" and _status(late) == "pending"
    assert execution_run(execution_id=str(running.pk)) == "succeeded"
    assert _status(late) == "queued"


@pytest.mark.django_db(transaction=True)
def test_an_admission_after_a_finish_committed_takes_the_freed_slot_itself(one_slot):
    # given the only slot freed by a finish that committed and has not handed it on yet
    running = _admit(one_slot)
    Execution.objects.filter(pk=running.pk).update(status="succeeded")
    # when another execution is admitted
    late = _admit(one_slot)
    # then it looked after its own insert committed, saw the free slot, and took it
    assert late.status == "queued" and _status(late) == "queued"
    assert Execution.objects.get(pk=late.pk).dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_window_holds_when_finishes_and_admissions_overlap(owner, settings):
    # given a workspace with two slots, and admissions racing finishes from other threads
    require_services()
    settings.LINKFLOW_DISPATCH_WINDOW = 2
    workflow = personal_workflow(owner, "w", chain(SET_A))
    first = [_admit(workflow) for _ in range(6)]
    errors: list[BaseException] = []

    def admit_some() -> None:
        try:
            for _ in range(6):
                _admit(workflow)
        except BaseException as error:  # reported below: a thread's failure must fail the test
            errors.append(error)
        finally:
            connection.close()

    def finish_some() -> None:
        try:
            for _ in range(12):
                queued = Execution.objects.filter(workflow=workflow, status="queued").first()
                if queued is not None:
                    execution_run(execution_id=str(queued.pk))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=f) for f in (admit_some, admit_some, finish_some, finish_some)
    ]
    held_max = 0
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        held = Execution.objects.filter(workflow=workflow, status__in=("queued", "running")).count()
        held_max = max(held_max, held)
    for thread in threads:
        thread.join()
    assert not errors
    # then never more than the window was dispatched, and nothing waits with a slot free
    assert held_max <= 2
    statuses = list(Execution.objects.filter(workflow=workflow).values_list("status", flat=True))
    assert len(statuses) == len(first) + 12
    held = sum(s in ("queued", "running") for s in statuses)
    assert held == 2 or "pending" not in statuses


@pytest.mark.django_db(transaction=True)
def test_a_finish_that_lost_its_lease_writes_no_status_and_no_noderun(one_slot):
    # given a claimed execution whose lease another worker took over meanwhile
    execution = _admit(one_slot)
    lease = lease_claim(execution_id=str(execution.pk))
    assert lease is not None
    Execution.objects.filter(pk=execution.pk).update(lease_owner="another-worker")
    waiting = _admit(one_slot)
    recorder = ExecutionRecorder(execution=lease.execution, lease=lease)
    trigger_recorded(recorder, lease.execution.started_at)
    result = RunResult(status="succeeded", outcomes={}, error=None, last_items=[])
    # when this run finishes anyway
    with recorder, pytest.raises(LeaseLost):
        recorder.finish(result)
    # then nothing of it was written and nothing was promoted on its behalf
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.lease_owner) == ("running", "another-worker")
    assert not NodeRun.objects.filter(execution=execution).exists()
    assert _status(waiting) == "pending"
