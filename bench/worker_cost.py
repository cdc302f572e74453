"""What one execution costs the worker: CPU, SQL statements and Redis commands.

Runs the worker's part of an execution (``execution_run``: claim, load, run, record,
finish, events, sync reply, dispatch) in this process, N times, for the side-by-side
benchmark's workflow (sync webhook -> set -> if -> set/set), and prints the CPU ms per
execution of this process (its threads included: event publisher, heartbeat) and of the
PostgreSQL server process serving it (from /proc: PostgreSQL must run on this machine), the SQL
statements per execution (each one a round trip) and the Redis commands per execution
(counted by the client). No Celery: the broker's own cost is not in these figures.
With ``--outside`` the workflow is bench/sidebyside_http.py's, with one ``http.request``
to a local echo stub (a process of its own, outside the figures) after the first Set: the
checkpoints around a node with outside effects are then in the figures.
Not part of the test suite.

    DATABASE_URL=postgres://... REDIS_URL=redis://.../N \\
        .venv/bin/python bench/worker_cost.py [--executions 300] [--outside]   # checkout root

Needs a PostgreSQL DATABASE_URL (a database `<name>_wcost` is dropped and created) and a
REDIS_URL (its database gets keys of this run; the messages it enqueues go to a queue of
its own and are deleted).
"""

import argparse
import collections
import os
import subprocess
import sys
import time
from typing import Any

# The checkout measured is the one run from (so another checkout can be measured with
# this script: cd there, PYTHONPATH=. python <this file>).
sys.path.insert(0, os.getcwd())
# The helpers beside this script, whichever checkout it measures (cwd).
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))

from roles import bench_database

GRAPH = {
    "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"method": "POST", "mode": "sync"}},
        {
            "id": "compute",
            "type": "data.set",
            "params": {
                "fields": {
                    "total": "{{ json.body.amount * json.body.qty }}",
                    "greeting": "{{ 'hello ' ~ (json.body.name | upper) }}",
                }
            },
        },
        {"id": "isbig", "type": "flow.if", "params": {"condition": "{{ json.body.amount > 100 }}"}},
        {
            "id": "high",
            "type": "data.set",
            "params": {
                "keep_only": True,
                "fields": {
                    "name": "{{ json.body.name }}",
                    "total": "{{ json.total }}",
                    "greeting": "{{ json.greeting }}",
                    "tier": "high",
                    "discount": "{{ (json.total * 0.1) | round(2) }}",
                },
            },
        },
        {
            "id": "low",
            "type": "data.set",
            "params": {
                "keep_only": True,
                "fields": {
                    "name": "{{ json.body.name }}",
                    "total": "{{ json.total }}",
                    "greeting": "{{ json.greeting }}",
                    "tier": "low",
                    "discount": 0,
                },
            },
        },
    ],
    "edges": [
        {"source": "hook", "target": "compute"},
        {"source": "compute", "target": "isbig"},
        {"source": "isbig", "target": "high", "output": "true"},
        {"source": "isbig", "target": "low", "output": "false"},
    ],
}
BODY = {"name": "ada", "amount": 150, "qty": 2}


def bench_workflow(name: str, graph: dict[str, Any] = GRAPH) -> tuple[Any, Any]:
    """Set Django up on a fresh database ``<DATABASE_URL's name>_<name>`` (production mode,
    unlimited plan, a queue of this process) with the side-by-side workflow of a new user;
    its workflow and webhook trigger. Shared with worker_role_cost.py."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
        "REDIS_URL"
    ):
        raise SystemExit("needs DATABASE_URL (PostgreSQL) and REDIS_URL")
    os.environ["DATABASE_URL"] = bench_database(os.environ["DATABASE_URL"], f"_{name}")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="linkflow.settings",
        LINKFLOW_QUEUE=f"linkflow-{name}-{os.getpid()}",
        LINKFLOW_DEFAULT_PLAN="unlimited",
        LOG_LEVEL="WARNING",
    )
    # Production mode (DEBUG off, URLs set) requires explicit keys; these are bench-only.
    os.environ.setdefault("SECRET_KEY", "linkflow-bench-only-not-a-secret")
    os.environ.setdefault(
        "LINKFLOW_CREDENTIAL_KEYS", "bGlua2Zsb3ctYmVuY2gtb25seS1ub3QtYS1zZWNyZXQ="
    )
    import django

    django.setup()
    from django.core.management import call_command

    from linkflow.accounts.services import user_create
    from workflows.models import WebhookTrigger
    from workflows.services import workflow_create

    call_command("migrate", verbosity=0)
    user = user_create(email=f"{name}@example.com", password=f"{name}-password-123")
    workflow = workflow_create(user=user, workspace=user.personal_workspace, name=name, graph=graph)
    return workflow, WebhookTrigger.objects.get(workflow=workflow)


def webhook_calls(workflow: Any, trigger: Any, n: int) -> list[str]:
    """Admit ``n`` executions of the webhook as its calls would (both IF branches); ids."""
    from executions.services import execution_create

    ids = []
    for i in range(n):
        execution = execution_create(
            user=None,
            workflow=workflow,
            trigger_input={"body": {**BODY, "amount": 150 if i % 2 else 50}},
            mode="webhook",
            trigger_node_id=trigger.node_id,
        )
        ids.append(str(execution.pk))
    return ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--executions", type=int, default=300)
    ap.add_argument("--verbose", action="store_true", help="print one execution's SQL")
    ap.add_argument("--profile", help="write a cProfile of the measured runs to this file")
    ap.add_argument("--outside", action="store_true", help="with one http.request (see above)")
    args = ap.parse_args()
    graph, stub = GRAPH, None
    if args.outside:
        graph, stub = _outside_call()
    try:
        _measure(args, *bench_workflow("wcost", graph))
    finally:
        if stub:
            stub.terminate()


def _outside_call() -> tuple[dict[str, Any], subprocess.Popen[bytes]]:
    """sidebyside_http.py's graph, and its echo stub started in a process of its own (so its
    CPU is not this process's); the stub's host:port is opened to the node."""
    import sidebyside_http

    stub = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sidebyside_http, time; sidebyside_http.start_stub(); time.sleep(86400)",
        ],
        cwd=os.path.dirname(os.path.abspath(__file__)),
    )
    os.environ["LINKFLOW_HTTP_ALLOW_HOSTS"] = f"127.0.0.1:{sidebyside_http.STUB_PORT}"
    time.sleep(1)
    return sidebyside_http.http_graph(GRAPH), stub


def _measure(args: argparse.Namespace, workflow: Any, trigger: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from redis.client import Pipeline, Redis

    from executions.feeds.completion import _key
    from executions.feeds.publisher import events_flush
    from executions.models import Execution
    from executions.services import execution_run

    counts = collections.Counter()
    plain_execute, pipe_execute = Redis.execute_command, Pipeline.execute

    def counted_command(self, *args, **options):
        if not isinstance(self, Pipeline):
            counts["redis_trips"] += 1
            counts["redis_commands"] += 1
        return plain_execute(self, *args, **options)

    def counted_pipeline(self, *args, **options):
        counts["redis_trips"] += 1
        counts["redis_commands"] += len(self.command_stack)
        return pipe_execute(self, *args, **options)

    Redis.execute_command, Pipeline.execute = counted_command, counted_pipeline

    def one_batch(n):
        return webhook_calls(workflow, trigger, n)

    def run_all(ids):
        for execution_id in ids:
            assert execution_run(execution_id=execution_id) == "succeeded"
        events_flush()

    run_all(one_batch(30))  # warm-up: caches, connections, the publisher thread
    # CPU first, without query capture (it has a cost of its own); then counts.
    ids = one_batch(args.executions)
    profiler = None
    if args.profile:
        import cProfile

        # CPU clock: the wall clock would charge the waits on PostgreSQL to the caller.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
    backend = _backend_pid(connection)
    cpu0, wall0, pg0 = time.process_time(), time.perf_counter(), _process_cpu(backend)
    run_all(ids)
    cpu1, wall1, pg1 = time.process_time(), time.perf_counter(), _process_cpu(backend)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    counted = one_batch(max(args.executions // 10, 10))
    counts.clear()
    with CaptureQueriesContext(connection) as queries:
        run_all(counted)
    if args.verbose:
        for query in queries.captured_queries[: len(queries.captured_queries) // len(counted)]:
            print("   ", query["sql"][:300])
    n, m = len(ids), len(counted)
    statements = collections.Counter(q["sql"].split()[0].upper() for q in queries.captured_queries)
    print(f"executions: {n}")
    print(f"worker CPU ms per execution: {(cpu1 - cpu0) * 1000 / n:.2f}")
    print(f"PostgreSQL backend CPU ms per execution: {(pg1 - pg0) * 1000 / n:.2f}")
    print(f"wall ms per execution: {(wall1 - wall0) * 1000 / n:.2f}")
    print(f"SQL statements per execution: {len(queries.captured_queries) / m:.2f}")
    for verb, count in statements.most_common():
        print(f"    {verb}: {count / m:.2f}")
    print(f"Redis round trips per execution: {counts['redis_trips'] / m:.2f}")
    print(f"Redis commands per execution: {counts['redis_commands'] / m:.2f}")
    finished = Execution.objects.filter(pk__in=ids + counted, status="succeeded").count()
    assert finished == n + m, f"only {finished} of {n + m} succeeded"
    client = Redis.from_url(os.environ["REDIS_URL"])
    client.delete(os.environ["LINKFLOW_QUEUE"], *[_key(i) for i in ids + counted])


def _backend_pid(connection) -> int:
    # The server process of this script's one connection: the database's share of the
    # cost, read from /proc (PostgreSQL on this machine), none of other clients'.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _process_cpu(pid: int) -> float:
    """User plus system CPU seconds of a process on this machine (0 when not readable)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
