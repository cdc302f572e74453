"""Monthly partitions (PostgreSQL): made ahead, catch-all default, whole months dropped."""

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from executions.maintenance.cleanup import executions_cleanup
from executions.maintenance.partitions import partition_create, partitions_ensure
from executions.models import DeadLetter, Execution, NodeRun
from executions.months import EXECUTIONS, NODE_RUNS, Month
from linkflow.accounts.models import User
from workflows.models import Workflow

from ..billing import on_plan
from ..conftest import require_services
from ..executing import backdated_execution, chain, create_workflow

SET = {"id": "set", "type": "data.set", "params": {"fields": {"ok": True}}}
NOW = timezone.now()


@pytest.fixture(autouse=True)
def _postgres(settings, tmp_path: Path, db: None) -> None:  # type: ignore[no-untyped-def]
    require_services()
    settings.MEDIA_ROOT = str(tmp_path)
    settings.LINKFLOW_PAYLOAD_INLINE_MAX_BYTES = 50


def _execution(
    workflow: Workflow, *, at: datetime, status: str = "succeeded", key: str | None = None
) -> Execution:
    """A finished execution created ``at`` with one NodeRun whose output is in storage."""
    return backdated_execution(
        workflow, created_at=at, output=["x" * 99], status=status, dedupe_key=key
    )


def _stored(execution: Execution) -> list[str]:
    with contextlib.suppress(FileNotFoundError):
        return default_storage.listdir(f"payloads/{execution.pk}")[1]  # type: ignore[no-any-return]
    return []


def _exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return bool(cursor.fetchone()[0])


def _partitions(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


def _partition_of(table: str, pk: object) -> str:
    """The partition holding the row."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [pk])
        return str(cursor.fetchone()[0])


@contextlib.contextmanager
def _drops() -> Iterator[list[str]]:
    with CaptureQueriesContext(connection) as queries:
        found: list[str] = []
        yield found
    found += [
        q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DROP")
    ]


def _workflow(client: APIClient) -> Workflow:
    return Workflow.objects.get(pk=create_workflow(client, chain(SET)))


def test_a_month_of_old_executions_goes_with_one_partition_drop(
    owner: User, outsider: User, client_for: Callable[[User], APIClient], billing_on: None
) -> None:
    # given a workspace keeping 7 days and one keeping 90, with executions five months ago
    # (past both) and younger ones
    on_plan(owner, retention_days=7)
    on_plan(outsider, retention_days=90)
    short, long = _workflow(client_for(owner)), _workflow(client_for(outsider))
    old = Month.of(NOW).plus(-5)
    partition_create(month=old)
    old_runs = [_execution(short, at=old.start + timedelta(days=d)) for d in (1, 9)]
    old_runs.append(_execution(long, at=old.start + timedelta(days=20)))
    expired_young = _execution(short, at=NOW - timedelta(days=10))
    kept = [
        _execution(short, at=NOW - timedelta(days=3)),
        _execution(long, at=NOW - timedelta(days=40)),
    ]
    assert all(_partition_of(EXECUTIONS, e.pk) == old.partition(EXECUTIONS) for e in old_runs)
    assert all(_stored(e) for e in old_runs)

    # when the cleanup runs
    with _drops() as drops:
        deleted = executions_cleanup(now=NOW)

    # then the old month's two partitions went in one DROP, the rest row by row
    assert drops == [f"DROP TABLE {old.partition(EXECUTIONS)}, {old.partition(NODE_RUNS)}"]
    assert not _exists(old.partition(EXECUTIONS)) and not _exists(old.partition(NODE_RUNS))
    assert deleted == 4
    gone = [*old_runs, expired_young]
    assert not Execution.objects.filter(pk__in=[e.pk for e in gone]).exists()
    assert not NodeRun.objects.filter(execution_id__in=[e.pk for e in gone]).exists()
    assert all(_stored(e) == [] for e in gone)
    assert Execution.objects.filter(pk__in=[e.pk for e in kept]).count() == 2
    assert NodeRun.objects.filter(execution_id__in=[e.pk for e in kept]).count() == 2
    assert all(_stored(e) for e in kept)


def test_a_month_a_workspace_still_keeps_is_not_dropped(
    owner: User, outsider: User, client_for: Callable[[User], APIClient], billing_on: None
) -> None:
    # two months ago: past 7 days, not past 400; and one more with a running execution
    on_plan(owner, retention_days=7)
    on_plan(outsider, retention_days=400)
    short, long = _workflow(client_for(owner)), _workflow(client_for(outsider))
    kept_month, busy_month = Month.of(NOW).plus(-2), Month.of(NOW).plus(-3)
    partition_create(month=kept_month)
    partition_create(month=busy_month)
    expired = _execution(short, at=kept_month.start)
    kept = _execution(long, at=kept_month.start)
    busy = _execution(short, at=busy_month.start, status="running")
    done = _execution(short, at=busy_month.start)

    with _drops() as drops:
        deleted = executions_cleanup(now=NOW, batch=1)

    # nothing dropped; the batched path took what had expired
    assert drops == []
    assert deleted == 2
    assert set(
        Execution.objects.filter(pk__in=[expired.pk, kept.pk, busy.pk, done.pk]).values_list(
            "pk", flat=True
        )
    ) == {kept.pk, busy.pk}
    assert _stored(kept) and _stored(expired) == []


def test_partitions_are_made_ahead_and_making_them_twice_is_harmless() -> None:
    later = Month.of(NOW).plus(24)
    months = [later, later.plus(1), later.plus(2)]
    names = {m.partition(t) for m in months for t in (EXECUTIONS, NODE_RUNS)}
    assert not any(_exists(name) for name in names)

    assert set(partitions_ensure(now=later.start + timedelta(days=3))) == names
    assert partitions_ensure(now=later.start) == []

    for table in (EXECUTIONS, NODE_RUNS):
        assert {m.partition(table) for m in months} <= _partitions(table)
        # this month and the next two exist since the migration
        assert Month.of(NOW).partition(table) in _partitions(table)
        assert Month.of(NOW).plus(2).partition(table) in _partitions(table)


def test_a_row_of_a_month_without_partition_lands_in_default_and_moves_out_later(
    owner: User, client_for: Callable[[User], APIClient], billing_on: None
) -> None:
    on_plan(owner, retention_days=7)
    workflow = _workflow(client_for(owner))
    lost = Month.of(NOW).plus(-40)
    assert not _exists(lost.partition(EXECUTIONS))
    execution = _execution(workflow, at=lost.start + timedelta(days=2), key="k1")
    run = NodeRun.objects.get(execution=execution)
    assert _partition_of(EXECUTIONS, execution.pk) == f"{EXECUTIONS}_default"
    assert _partition_of(NODE_RUNS, run.pk) == f"{NODE_RUNS}_default"

    created = partitions_ensure(now=NOW)

    assert created == [lost.partition(EXECUTIONS), lost.partition(NODE_RUNS)]
    assert _partition_of(EXECUTIONS, execution.pk) == lost.partition(EXECUTIONS)
    assert _partition_of(NODE_RUNS, run.pk) == lost.partition(NODE_RUNS)
    with pytest.raises(IntegrityError), transaction.atomic():  # its key still counts
        _execution(workflow, at=NOW, key="k1")
    # and the month then goes as any other, freeing the key
    with _drops() as drops:
        assert executions_cleanup(now=NOW) == 1
    assert len(drops) == 1 and not _exists(lost.partition(EXECUTIONS))
    assert _stored(execution) == []
    assert _execution(workflow, at=NOW, key="k1").dedupe_key == "k1"


def test_a_dedupe_key_is_unique_across_months(
    owner: User, client_for: Callable[[User], APIClient]
) -> None:
    workflow = _workflow(client_for(owner))
    first = _execution(workflow, at=NOW - timedelta(days=70), key="cron:a")
    with pytest.raises(IntegrityError), transaction.atomic():
        _execution(workflow, at=NOW, key="cron:a")
    # giving the key up (services.py does so past the dedupe window) frees it
    Execution.objects.filter(pk=first.pk).update(dedupe_key=None)
    assert _execution(workflow, at=NOW, key="cron:a").dedupe_key == "cron:a"


def test_what_points_into_a_dropped_month_is_unlinked_or_deleted_as_its_foreign_key_says(
    owner: User, client_for: Callable[[User], APIClient], billing_on: None
) -> None:
    on_plan(owner, retention_days=30)
    workflow = _workflow(client_for(owner))
    old = Month.of(NOW).plus(-4)
    partition_create(month=old)
    source, parent = (_execution(workflow, at=old.start + timedelta(days=d)) for d in (1, 2))
    # a re-run and a late sub-workflow child in younger months, and a dead letter
    repeat = _execution(workflow, at=NOW - timedelta(days=1))
    child = _execution(workflow, at=NOW - timedelta(days=1))
    Execution.objects.filter(pk=repeat.pk).update(source=source)
    Execution.objects.filter(pk=child.pk).update(parent=parent, depth=1)
    letter = DeadLetter.objects.create(
        execution=source,
        task_name="executions.run",
        fingerprint="f",
        first_failed_at=NOW,
        last_failed_at=NOW,
    )

    assert executions_cleanup(now=NOW) == 3  # the month's two and the child

    assert not _exists(old.partition(EXECUTIONS))
    assert not Execution.objects.filter(pk__in=[source.pk, parent.pk, child.pk]).exists()
    assert _stored(child) == []
    assert Execution.objects.get(pk=repeat.pk).source_id is None
    assert DeadLetter.objects.get(pk=letter.pk).execution_id is None
