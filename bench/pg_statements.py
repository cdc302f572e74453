"""What PostgreSQL spends on each statement shape of an execution's hot path.

Sets up the side-by-side workflow on a fresh database (as worker_cost.py does), runs a few
hundred of its executions so the tables hold real rows, then sends each statement shape
below N times on one connection and prints the CPU milliseconds its server process spent
per statement (user and system time from /proc: PostgreSQL must run on this machine),
the median of --rounds rounds taken in turn, so a slow spell of the machine falls on
every shape alike. Prepared on the server, as the hot path sends them (core/prepared.py).

- ``floor``: ``SELECT`` of two parameters, no table (what any round trip costs).
- ``select parent`` / ``select leaf``: one execution by id and created_at, through the
  partitioned table and straight from its month's partition.
- ``update by id``: the claim's shape (by id alone, matching nothing), through the
  partitioned table (as before 2026-12-06) and in this month's partition (as now).
- ``dispatch idle`` / ``held``: ``linkflow_dispatch`` with nothing pending (every finish
  calls it), and its count of the held slots.
- ``status update`` (sync commit on, then off): a status change, which no index lets
  PostgreSQL make in place.
- ``finish``: finish_statement.py's statement, the status change with five new NodeRuns,
  through the partitioned tables (as before 2026-12-06) and in the month's partitions
  (as it is sent now).

With ``--partitions K`` it first adds K empty monthly partitions before the oldest (what
K months of history add): PostgreSQL 15 locks every partition of a generic plan on each
execution, so the statements on the partitioned tables cost more as months pile up.
Not part of the test suite.

    DATABASE_URL=postgres://... REDIS_URL=redis://.../N \\
        .venv/bin/python bench/pg_statements.py [-n 2000] [--rounds 5] [--partitions 0]
"""

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.getcwd())
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))

from worker_cost import bench_workflow, webhook_calls

TICK = os.sysconf("SC_CLK_TCK")


def _backend_cpu(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])  # utime, stime (ticks)


def _add_partitions(cursor: Any, months: int) -> None:
    from executions.maintenance.partitions import TABLES, partition_months

    oldest = partition_months()[0]
    for back in range(1, months + 1):
        month = oldest.plus(-back)
        for table, _key in TABLES:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {month.partition(table)} PARTITION OF {table} "
                f"FOR VALUES FROM ('{month.start.isoformat()}') TO ('{month.end.isoformat()}')"
            )


def _shapes(pg: Any, execution: Any, rows: list[dict[str, Any]]) -> dict[str, Callable[[], Any]]:
    from django.utils import timezone

    from executions.months import EXECUTIONS, NODE_RUNS, Month
    from executions.running.finish_statement import _finish_sql
    from executions.running.noderun_rows import noderuns_upsert_sql

    leaf = Month.of(execution.created_at).partition(EXECUTIONS)
    key = (execution.pk, execution.created_at)
    workspace = execution.workspace_id
    flip = (
        f"UPDATE {EXECUTIONS} SET status = CASE status WHEN 'succeeded' THEN 'failed' "
        "ELSE 'succeeded' END WHERE id = %s AND created_at = %s"
    )
    counter = iter(range(10**9))

    def finish(*, in_leaves: bool = False) -> Callable[[], Any]:
        def run() -> Any:
            # New NodeRuns each time (the real case); the fence matches a row left running.
            batch = [dict(row, node_id=f"{row['node_id']}-{next(counter)}") for row in rows]
            month = Month.of(execution.created_at)
            executions, node_runs = (
                (month.partition(EXECUTIONS), month.partition(NODE_RUNS))
                if in_leaves
                else (None, None)
            )
            insert, params = noderuns_upsert_sql(
                batch, only_if="EXISTS (SELECT 1 FROM done)", table=node_runs
            )
            fence = ["running", None, None, timezone.now(), *key, "", "running"]
            sql = _finish_sql(with_rows=f", written AS ({insert})", table=executions)
            return pg.execute(sql, [*fence, *params])

        return run

    return {
        "floor": lambda: pg.execute("SELECT %s::uuid, %s::timestamptz", key),
        "select parent": lambda: pg.execute(
            f"SELECT status FROM {EXECUTIONS} WHERE id = %s AND created_at = %s", key
        ),
        "select leaf": lambda: pg.execute(
            f"SELECT status FROM {leaf} WHERE id = %s AND created_at = %s", key
        ),
        "update by id": lambda: pg.execute(
            f"UPDATE {EXECUTIONS} SET lease_owner = lease_owner WHERE id = %s AND status = 'x'",
            [execution.pk],
        ),
        "update by id, this month's partition": lambda: pg.execute(
            f"UPDATE {leaf} SET lease_owner = lease_owner WHERE id = %s AND status = 'x'",
            [execution.pk],
        ),
        "dispatch idle": lambda: pg.execute(
            "SELECT linkflow_dispatch(%s, %s, %s)", [workspace, 8, timezone.now()]
        ),
        "held": lambda: pg.execute("SELECT linkflow_dispatch_held(%s)", [workspace]),
        "status update, sync commit": lambda: pg.execute(flip, key),
        "status update, async commit": lambda: pg.execute(flip, key),
        "finish (5 NodeRuns)": finish(),
        "finish, in the month's partitions": finish(in_leaves=True),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000, help="statements per shape and round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--partitions", type=int, default=0, help="empty past months to add")
    args = ap.parse_args()
    workflow, trigger = bench_workflow("pgstmt")

    import psycopg
    from django.db import connection
    from django.utils import timezone

    from executions.models import Execution, NodeRun
    from executions.services import execution_run

    for execution_id in webhook_calls(workflow, trigger, 300):
        execution_run(execution_id=execution_id)
    with connection.cursor() as cursor:
        _add_partitions(cursor, args.partitions)
    execution = Execution.objects.filter(status="succeeded").latest("created_at")
    rows = [
        {
            **{name: getattr(run, name) for name in ("node_id", "node_type", "status")},
            **{name: getattr(run, name) for name in ("attempt", "sequence", "input", "output")},
            "execution_id": execution.pk,
            "execution_created_at": execution.created_at,
            "error": None,
            "started_at": timezone.now(),
            "finished_at": timezone.now(),
            "resume_at": None,
            "item_meta": {},
            "iteration": 0,
        }
        for run in NodeRun.objects.filter(execution_id=execution.pk)
    ]
    settings = connection.settings_dict
    pg = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None,
        port=settings["PORT"] or None, autocommit=True, prepare_threshold=0,
    )  # fmt: skip
    pid = pg.execute("SELECT pg_backend_pid()").fetchone()[0]
    Execution.objects.filter(pk=execution.pk).update(status="succeeded")
    partitions = pg.execute(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'executions_execution'::regclass"
    ).fetchone()[0]
    shapes = _shapes(pg, execution, rows)
    taken: dict[str, list[tuple[float, float]]] = {name: [] for name in shapes}
    for _round in range(args.rounds):
        for name, statement in shapes.items():
            if name.startswith("finish"):
                Execution.objects.filter(pk=execution.pk).update(status="running", lease_owner="")
            commit = "off" if name.endswith("async commit") else "on"
            pg.execute(f"SET synchronous_commit = {commit}")
            for _ in range(20):  # past psycopg's and PostgreSQL's first plans
                statement()
            before = _backend_cpu(pid)
            for _ in range(args.n):
                statement()
            after = _backend_cpu(pid)
            taken[name].append(
                tuple((b - a) / TICK / args.n * 1000 for a, b in zip(before, after, strict=True))
            )
        NodeRun.objects.filter(execution_id=execution.pk).exclude(
            node_id__in=[row["node_id"] for row in rows]
        ).delete()
        Execution.objects.filter(pk=execution.pk).update(status="succeeded")
    print(f"executions partitions: {partitions}; {args.n} statements x {args.rounds} rounds")
    print("PostgreSQL CPU ms per statement (median of rounds): user + system = total")
    for name, figures in taken.items():
        user = statistics.median(f[0] for f in figures)
        system = statistics.median(f[1] for f in figures)
        total = statistics.median(f[0] + f[1] for f in figures)
        print(f"    {name:<34} {user:.3f} + {system:.3f} = {total:.3f}")


if __name__ == "__main__":
    main()
