"""Retention cleanup of one old month: partition drop versus batched row deletes.

Creates a scratch database ``<name>_cleanup_bench`` next to DATABASE_URL (PostgreSQL),
migrates it, loads N NodeRuns (default 1,000,000, ten per execution) into a month six
months back with INSERT ... SELECT generate_series, and times removing them twice, on the
same data loaded afresh each time:

- ``drop``: executions.maintenance.cleanup.executions_drop_expired_months (list the month's
  executions, delete their stored objects, unlink references, one DROP TABLE);
- ``batched``: the row-by-row path the cleanup keeps for partly expired months and
  SQLite (``batch`` executions per transaction, NodeRuns cascading).

Prints the figures; the scratch database is dropped at the end. Not part of the tests.

    .venv/bin/python bench/cleanup.py --node-runs 1000000 --batch 1000
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS_PER_EXECUTION = 10


def scratch_database(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    name = (parsed.path.lstrip("/") or "linkflow") + "_cleanup_bench"
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-runs", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL")
    admin, name = scratch_database(url)
    os.environ.update(
        DATABASE_URL=urlunparse(urlparse(url)._replace(path=f"/{name}")),
        DJANGO_SETTINGS_MODULE="linkflow.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY", "linkflow-bench-only-not-a-secret"),
        LINKFLOW_CREDENTIAL_KEYS=os.environ.get(
            "LINKFLOW_CREDENTIAL_KEYS", "bGlua2Zsb3ctYmVuY2gtb25seS1ub3QtYS1zZWNyZXQ="
        ),
        ALLOWED_HOSTS="127.0.0.1",
        LINKFLOW_DEFAULT_PLAN="free",
    )
    try:
        run(args.node_runs, args.batch)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(node_runs: int, batch: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="linkflow-cleanup-bench-")
    call_command("migrate", verbosity=0)
    from executions.maintenance import cleanup
    from executions.maintenance.partitions import Month, partition_create

    now = timezone.now()
    month = Month.of(now).plus(-6)
    workspace_id = setup_rows()
    cutoffs = {workspace_id: now - timedelta(days=30)}
    executions = node_runs // RUNS_PER_EXECUTION
    label = f"{month.year}-{month.month:02d}"
    print(f"{executions:,} executions, {executions * RUNS_PER_EXECUTION:,} NodeRuns in {label}")

    figures = {}
    for path in ("drop", "batched"):
        partition_create(month=month)
        seconds = load(month, workspace_id, executions)
        print(f"  loaded in {seconds:.1f} s ({table_size(month)})")
        with StatementTimer() as timer:
            started = time.perf_counter()
            if path == "drop":
                deleted = cleanup.executions_drop_expired_months(cutoffs=cutoffs, now=now)
            else:
                deleted = cleanup._cleanup_workspace(
                    workspace_id, cutoff=cutoffs[workspace_id], batch=batch
                )
            elapsed = time.perf_counter() - started
        assert deleted == executions, (path, deleted)
        figures[path] = elapsed
        print(
            f"  {path:8s} {elapsed:8.2f} s  {node_runs / elapsed:>12,.0f} NodeRuns/s"
            f"  statements {timer.count:,}, in the database {timer.seconds:.2f} s"
            f" (DROP {timer.drop_seconds * 1000:.1f} ms);"
            f" storage calls and Python {elapsed - timer.seconds:.2f} s"
        )
        if path == "batched":
            # Deleted rows stay on disk as dead tuples until VACUUM; a drop frees at once.
            print(f"  after the batched delete: {table_size(month)}")
            drop_partitions(month)
    print(f"  partition drop is {figures['batched'] / figures['drop']:.1f}x faster end to end")


class StatementTimer:
    """Counts and times the statements Django sends (storage calls are outside)."""

    def __init__(self) -> None:
        self.count, self.seconds, self.drop_seconds = 0, 0.0, 0.0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - started
            self.count += 1
            self.seconds += spent
            if sql.lstrip().upper().startswith("DROP"):
                self.drop_seconds += spent

    def __enter__(self) -> "StatementTimer":
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wrapper.__exit__(*exc)


def setup_rows() -> object:
    from linkflow.accounts.models import Workspace
    from workflows.models import Workflow, WorkflowVersion

    workspace = Workspace.objects.create(name="bench")
    workflow = Workflow.objects.create(workspace=workspace, name="bench")
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, graph={"nodes": []})
    workflow.current_version = version
    workflow.save(update_fields=["current_version"])
    return workspace.pk


def load(month, workspace_id: object, executions: int) -> float:  # type: ignore[no-untyped-def]
    from django.db import connection, transaction

    from workflows.models import Workflow

    workflow = Workflow.objects.get(workspace_id=workspace_id)
    # Spread over the month's first 25 days; ten NodeRuns each, written in SQL.
    step = 25 * 86400 / executions
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO executions_execution (id, created_at, updated_at, status, mode,"
            " trigger_input, queued_at, finished_at, lease_owner, trigger_node_id,"
            " rerun_from_node, depth, workspace_id, workflow_id, version_id)"
            " SELECT gen_random_uuid(), t, t, 'succeeded', 'api', '{}', t, t, '', '', '', 0,"
            " %s, %s, %s FROM (SELECT %s + i * %s * interval '1 second' AS t"
            " FROM generate_series(0, %s - 1) i) s",
            [
                workspace_id,
                workflow.pk,
                workflow.current_version_id,
                month.start,
                step,
                executions,
            ],
        )
        cursor.execute(
            "INSERT INTO executions_noderun (id, created_at, updated_at, node_id, node_type,"
            " status, attempt, sequence, input, output, execution_id, execution_created_at)"
            " SELECT gen_random_uuid(), e.created_at, e.created_at, 'n' || n, 'data.set',"
            " 'succeeded', 1, n, '[{\"a\": 1}]', '[{\"a\": 1, \"ok\": true}]', e.id,"
            " e.created_at FROM executions_execution e"
            " CROSS JOIN generate_series(1, %s) n WHERE e.created_at >= %s AND e.created_at < %s",
            [RUNS_PER_EXECUTION, month.start, month.end],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE executions_execution")
        cursor.execute("ANALYZE executions_noderun")
    return time.perf_counter() - started


def table_size(month) -> str:  # type: ignore[no-untyped-def]
    from django.db import connection

    from executions.months import EXECUTIONS, NODE_RUNS

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size(%s)),"
            " pg_size_pretty(pg_total_relation_size(%s))",
            [month.partition(EXECUTIONS), month.partition(NODE_RUNS)],
        )
        executions, node_runs = cursor.fetchone()
    return f"executions partition {executions}, NodeRun partition {node_runs}"


def drop_partitions(month) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from executions.months import EXECUTIONS, NODE_RUNS

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {month.partition(EXECUTIONS)}, {month.partition(NODE_RUNS)}")


if __name__ == "__main__":
    main()
