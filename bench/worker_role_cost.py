"""What one execution costs the worker role as the Procfile runs it: Celery included.

Starts the Procfile's ``worker:`` command (prefork, its default concurrency) on a bench
database and a queue of its own, feeds it the side-by-side benchmark's workflow (the one of
bench/worker_cost.py) created straight in the database, and prints the CPU ms per
execution of the worker's main process (the Celery consumer: broker bookkeeping, the
pool), of its children (the runs) and of the PostgreSQL server processes serving them,
from /proc (PostgreSQL must run on this machine). A warm-up batch runs first.
Not part of the test suite; measure a baseline checkout back to back with the same command.

    DATABASE_URL=postgres://... REDIS_URL=redis://.../N \\
        .venv/bin/python bench/worker_role_cost.py [--executions 600]   # from the checkout root
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.getcwd())
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))

from worker_cost import _process_cpu, bench_workflow, webhook_calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--executions", type=int, default=600)
    args = ap.parse_args()
    workflow, trigger = bench_workflow("wrole")
    from django.db import connection

    from executions.models import Execution

    def batch(n: int) -> list[str]:
        return webhook_calls(workflow, trigger, n)

    def wait_finished(ids: list[str]) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = Execution.objects.filter(pk__in=ids, status="succeeded").count()
            if done == len(ids):
                return
            time.sleep(0.2)
        raise SystemExit(f"only {done} of {len(ids)} succeeded")

    worker = _start_worker()
    try:
        time.sleep(3)
        wait_finished(batch(60))  # warm-up: children forked, connections, caches
        parent, children = worker.pid, _children(worker.pid)
        own = _backend_pid(connection)
        servers = _servers(connection, exclude=own)
        before = [_process_cpu(parent), _tree_cpu(children), _tree_cpu(servers)]
        ids = batch(args.executions)
        wait_finished(ids)
        servers_after = _servers(connection, exclude=own)
        after = [_process_cpu(parent), _tree_cpu(children), _tree_cpu(servers_after)]
        if _children(worker.pid) != children:
            print("warning: a worker child was replaced while measured")
        if set(servers_after) != set(servers):
            # A connection closed meanwhile took its CPU with it: PostgreSQL reads low.
            print("warning: the worker's database connections changed while measured")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    n = len(ids)
    parent_ms, children_ms, pg_ms = ((b - a) * 1000 / n for a, b in zip(before, after, strict=True))
    print(f"executions: {n}")
    print(f"worker main process CPU ms per execution: {parent_ms:.2f}")
    print(f"worker children CPU ms per execution: {children_ms:.2f}")
    print(f"worker role CPU ms per execution: {parent_ms + children_ms:.2f}")
    print(f"PostgreSQL (the worker's connections) CPU ms per execution: {pg_ms:.2f}")


def _start_worker() -> subprocess.Popen[bytes]:
    with open("Procfile") as procfile:
        line = next(row for row in procfile if row.startswith("worker:"))
    command = line.split(":", 1)[1].strip().replace("--loglevel INFO", "--loglevel WARNING")
    bin_dir = os.path.dirname(sys.executable)
    env = {
        **os.environ,
        "PYTHONPATH": os.getcwd(),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    # exec: the shell expands ${WORKER_CONCURRENCY:-3} and becomes the Celery process.
    return subprocess.Popen(["bash", "-c", f"exec {command}"], env=env)


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(p) for p in found.split())


def _tree_cpu(pids: list[int]) -> float:
    return sum(_process_cpu(pid) for pid in pids)


def _backend_pid(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _servers(connection, *, exclude: int) -> list[int]:
    """The PostgreSQL server processes of the bench database but this script's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s",
            [exclude],
        )
        return sorted(row[0] for row in cursor.fetchall())


if __name__ == "__main__":
    main()
