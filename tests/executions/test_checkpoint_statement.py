"""The checkpoint around a node with outside effects as one statement on PostgreSQL
(executions/running/checkpoint_statement.py): it writes the pending NodeRuns only under the
lease, locks the execution's row like lease_fence, and leaves the row as it was (no new
version, so no new index entries) unless the lease is running short."""

import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from executions.models import Execution, NodeRun
from executions.running.lease import Lease, LeaseLost, lease_claim
from executions.running.recorder import ExecutionRecorder
from executions.services import execution_create

from ..conftest import require_services
from ..executing import chain, personal_workflow, trigger_recorded


@pytest.fixture
def claimed(owner) -> tuple[ExecutionRecorder, Lease]:
    """A claimed execution with the trigger's NodeRun pending in its recorder."""
    require_services()
    workflow = personal_workflow(owner, "w", chain())
    execution = execution_create(user=None, workflow=workflow, trigger_input={}, mode="manual")
    lease = lease_claim(execution_id=str(execution.pk))
    assert lease is not None and lease.execution is not None
    recorder = ExecutionRecorder(execution=lease.execution, lease=lease)
    trigger_recorded(recorder, timezone.now())
    return recorder, lease


def _outside_node_starts(recorder: ExecutionRecorder) -> None:
    recorder.node_started(node_id="call", node_type="http.request", attempt=1, input=[{}])


def _row_version(execution_id: str) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ctid::text, xmin::text FROM executions_execution WHERE id = %s",
            [execution_id],
        )
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_writes_the_pending_noderuns_and_leaves_the_row_as_it_was(claimed):
    recorder, lease = claimed
    before = _row_version(lease.execution_id)
    expires_before = Execution.objects.get(pk=lease.execution_id).lease_expires_at

    _outside_node_starts(recorder)

    assert list(
        NodeRun.objects.filter(execution_id=lease.execution_id).values_list("node_id", flat=True)
    ) == ["start"]
    # No UPDATE: the same tuple, so none of the table's indexes got an entry.
    assert _row_version(lease.execution_id) == before
    assert Execution.objects.get(pk=lease.execution_id).lease_expires_at == expires_before


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_renews_a_lease_that_is_running_short(claimed, settings):
    recorder, lease = claimed
    # given: a heartbeat that fell behind, a quarter of the lease left
    short = timezone.now() + timedelta(seconds=settings.LINKFLOW_LEASE_SECONDS / 4)
    Execution.objects.filter(pk=lease.execution_id).update(lease_expires_at=short)
    lease.expires_at = short

    _outside_node_starts(recorder)

    stored = Execution.objects.get(pk=lease.execution_id).lease_expires_at
    # a full lease from now again, for the outside call about to start
    assert stored > short + timedelta(seconds=settings.LINKFLOW_LEASE_SECONDS / 2)
    assert lease.expires_at == stored


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_of_a_run_that_lost_its_lease_writes_nothing_and_stops_it(claimed):
    recorder, lease = claimed
    Execution.objects.filter(pk=lease.execution_id).update(lease_owner="another-worker")

    with pytest.raises(LeaseLost):
        _outside_node_starts(recorder)

    assert not NodeRun.objects.filter(execution_id=lease.execution_id).exists()
    assert Execution.objects.get(pk=lease.execution_id).lease_owner == "another-worker"


@pytest.mark.django_db(transaction=True)
def test_a_takeover_waits_while_a_checkpoint_holds_the_row(claimed):
    recorder, lease = claimed
    outcome: list[str] = []

    def take_over() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SET lock_timeout = '300ms'")
                cursor.execute(
                    "UPDATE executions_execution SET lease_owner = 'thief' WHERE id = %s",
                    [lease.execution_id],
                )
            outcome.append("took it")
        except OperationalError:
            outcome.append("waited")
        finally:
            connections["default"].close()

    # given: a checkpoint inside a caller's transaction (an inline child's run)
    with transaction.atomic():
        _outside_node_starts(recorder)
        # when: another worker tries to take the execution over meanwhile
        thief = threading.Thread(target=take_over)
        thief.start()
        thief.join()
    # then: it could not until the checkpoint's transaction ended
    assert outcome == ["waited"]
    assert Execution.objects.get(pk=lease.execution_id).lease_owner == lease.owner
