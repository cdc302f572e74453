"""A run's hot statements (the fresh claim, the checkpoint, the finish) name the execution's
month partitions on PostgreSQL (executions/months.py, month_partitions), so what they cost
does not grow with the months of history kept; an execution whose month has no partitions
(its row in the default partition) is claimed and written through the partitioned tables
as before."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.maintenance.partitions import partition_create
from executions.models import Execution, NodeRun
from executions.months import (
    EXECUTIONS,
    NODE_RUNS,
    Month,
    month_partitions,
    month_partitions_forget,
)
from executions.running.lease import lease_claim
from executions.running.recorder import ExecutionRecorder
from executions.services import execution_create, execution_run

from ..conftest import require_services
from ..executing import chain, personal_workflow, trigger_recorded

SET_A = {"id": "a", "type": "data.set", "params": {"fields": {"which": "a"}}}
# A month no partition was made for: its rows land in the default partitions.
UNPARTITIONED = datetime(2001, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def workflow(owner):
    require_services()
    return personal_workflow(owner, "w", chain(SET_A))


def _admit(workflow, *, created_at: datetime | None = None) -> Execution:
    execution = execution_create(user=None, workflow=workflow, trigger_input={}, mode="manual")
    if created_at is not None:  # moves the row into that month's partition (or the default)
        Execution.objects.filter(pk=execution.pk).update(created_at=created_at)
    return execution


def _writes(queries: CaptureQueriesContext) -> list[str]:
    """The statements that wrote NodeRuns (the checkpoint's, the finish's)."""
    return [q["sql"] for q in queries if 'INSERT INTO "executions_noderun' in q["sql"]]


def _partition_of(table: str, execution_id: object) -> str:
    key = "id" if table == EXECUTIONS else "execution_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT tableoid::regclass::text FROM {table} WHERE {key} = %s",
            [execution_id],
        )
        return ", ".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_a_finish_writes_into_its_months_partitions_by_name(workflow):
    execution = _admit(workflow)
    month = Month.of(Execution.objects.get(pk=execution.pk).created_at)

    with CaptureQueriesContext(connection) as queries:
        assert execution_run(execution_id=str(execution.pk)) == "succeeded"

    (finish,) = _writes(queries)
    assert f'UPDATE "{month.partition(EXECUTIONS)}"' in finish
    assert f'INSERT INTO "{month.partition(NODE_RUNS)}"' in finish
    assert Execution.objects.get(pk=execution.pk).status == "succeeded"
    assert sorted(
        NodeRun.objects.filter(execution=execution).values_list("node_id", flat=True)
    ) == [
        "a",
        "start",
    ]
    assert _partition_of(NODE_RUNS, execution.pk) == month.partition(NODE_RUNS)


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_writes_into_its_months_partitions_by_name(workflow):
    execution = _admit(workflow)
    lease = lease_claim(execution_id=str(execution.pk))
    assert lease is not None and lease.execution is not None
    recorder = ExecutionRecorder(execution=lease.execution, lease=lease)
    trigger_recorded(recorder, timezone.now())
    month = Month.of(lease.execution.created_at)

    with CaptureQueriesContext(connection) as queries:
        # a node with outside effects starts: what is pending is checkpointed first
        recorder.node_started(node_id="call", node_type="http.request", attempt=1, input=[{}])

    (checkpoint,) = _writes(queries)
    assert f'FROM "{month.partition(EXECUTIONS)}"' in checkpoint
    assert f'INSERT INTO "{month.partition(NODE_RUNS)}"' in checkpoint
    assert list(NodeRun.objects.filter(execution=execution).values_list("node_id", flat=True)) == [
        "start"
    ]


@pytest.fixture
def unpartitioned_month():
    """UNPARTITIONED's month, whose partitions a test may create: dropped again after it."""
    yield Month.of(UNPARTITIONED)
    with connection.cursor() as cursor:
        for table in (EXECUTIONS, NODE_RUNS):
            cursor.execute(f"DROP TABLE IF EXISTS {Month.of(UNPARTITIONED).partition(table)}")
    month_partitions_forget()


@pytest.mark.django_db(transaction=True)
def test_a_month_without_partitions_is_written_through_the_partitioned_tables(
    workflow, unpartitioned_month
):
    # given an execution of a month nobody made partitions for (in the default partition)
    execution = _admit(workflow, created_at=UNPARTITIONED)
    assert _partition_of(EXECUTIONS, execution.pk) == f"{EXECUTIONS}_default"
    assert month_partitions(UNPARTITIONED) is None

    # when it runs, its finish names the partitioned tables and everything is stored
    with CaptureQueriesContext(connection) as queries:
        assert execution_run(execution_id=str(execution.pk)) == "succeeded"
    (finish,) = _writes(queries)
    assert f'UPDATE "{EXECUTIONS}"' in finish and f'INSERT INTO "{NODE_RUNS}"' in finish
    assert NodeRun.objects.filter(execution=execution).count() == 2
    assert _partition_of(NODE_RUNS, execution.pk) == f"{NODE_RUNS}_default"

    # and once that month gets its partitions (rows moved out of the default ones), this
    # process addresses them at once rather than after its next look at the catalog
    month = unpartitioned_month
    partition_create(month=month)
    assert month_partitions(UNPARTITIONED) == (
        month.partition(EXECUTIONS),
        month.partition(NODE_RUNS),
    )
    assert _partition_of(EXECUTIONS, execution.pk) == month.partition(EXECUTIONS)


def _claims(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "lease_owner" in q["sql"]
    ]


@pytest.mark.django_db(transaction=True)
def test_a_claim_looks_in_this_months_partition_by_name(workflow):
    execution = _admit(workflow)
    month = Month.of(timezone.now())

    with CaptureQueriesContext(connection) as queries:
        lease = lease_claim(execution_id=str(execution.pk))

    assert lease is not None and lease.fresh and lease.execution is not None
    assert lease.execution.status == "running"
    (claim,) = _claims(queries)
    assert f'UPDATE "{month.partition(EXECUTIONS)}"' in claim
    assert Execution.objects.get(pk=execution.pk).lease_owner == lease.owner


@pytest.mark.django_db(transaction=True)
def test_a_claim_of_an_execution_of_another_month_finds_it_through_the_partitioned_table(
    workflow,
):
    # given an execution created in a month without partitions (queued, never run)
    execution = _admit(workflow, created_at=UNPARTITIONED)

    # when a worker claims it: this month's partition has no such row, the table has
    with CaptureQueriesContext(connection) as queries:
        lease = lease_claim(execution_id=str(execution.pk))

    assert lease is not None and lease.fresh and lease.execution is not None
    this_month, table = _claims(queries)
    assert f'UPDATE "{Month.of(timezone.now()).partition(EXECUTIONS)}"' in this_month
    assert f'UPDATE "{EXECUTIONS}"' in table
    # and it is held by this lease: a second delivery of its message finds nothing to run
    assert execution_run(execution_id=str(execution.pk)) is None
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.lease_owner) == ("running", lease.owner)
