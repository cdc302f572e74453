"""Scale curves of the Procfile roles on PostgreSQL and Redis, each curve from one run.

    .venv/bin/python bench/scale.py processes   # executions/s by worker and web processes
    .venv/bin/python bench/scale.py nodes       # worker cost per node at 5, 20, 100 nodes
    .venv/bin/python bench/scale.py stored      # execute and the list at 10k and 1M stored

``processes`` pushes --executions executions of a 4-node workflow through
`POST /api/v1/workflows/{id}/execute` for each size and prints end-to-end executions/s.
``nodes`` runs chains of data.set nodes (5, 20, 100) and prints executions/s, node runs/s
and the worker's CPU ms per node (the worker role's process tree, read from /proc): it must
stay flat. ``stored`` bulk-loads a history (``generate_series``: executions over 90 days,
over 40 workflows and two other tenants, mostly succeeded, a few cancelled, NodeRuns for
one in 20), then at each size measures the execute path and the list API with the filters
users use, walking --pages pages deep by the cursor, and prints p50/p99 per filter.

Needs DATABASE_URL (PostgreSQL; a database `<name>_scale_<curve>` is dropped and made) and
REDIS_URL. Loopback only; every process it starts is ended. Figures are noisy on a shared
machine: compare within one run.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.roles import (  # noqa: E402
    ADMIN,
    api_client,
    bench_database,
    bulk_load_history,
    finished_count,
    percentile,
    prepare_database,
    role_env,
    roles,
    wait_finished,
)
from tests.graphs import pure_graph  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def chain_graph(nodes: int) -> dict[str, Any]:
    """A manual trigger and ``nodes - 1`` data.set nodes in a line, each adding a field."""
    graph: dict[str, Any] = {"nodes": [{"id": "n0", "type": "trigger.manual"}], "edges": []}
    for n in range(1, nodes):
        graph["nodes"].append(
            {"id": f"n{n}", "type": "data.set", "params": {"fields": {f"f{n}": "{{ json.n + 1 }}"}}}
        )
        graph["edges"].append({"source": f"n{n - 1}", "target": f"n{n}"})
    return graph


def push(api: httpx.Client, workflow_id: str, count: int, concurrency: int) -> float:
    """Submit ``count`` executions from ``concurrency`` threads; seconds it took."""
    url = f"/api/v1/workflows/{workflow_id}/execute"
    local = threading.local()

    def fire(i: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(
                base_url=str(api.base_url), headers=api.headers, timeout=60
            )
        client.post(url, json={"input": {"n": i % 10}}).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(fire, range(count)))
    return time.perf_counter() - started


def run_batch(
    api: httpx.Client, db_url: str, workflow_id: str, count: int, concurrency: int
) -> float:
    """Executions/s from the first queued to the last finished of ``count`` new ones."""
    before = finished_count(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        mark = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    push(api, workflow_id, count, concurrency)
    wait_finished(db_url, before + count)
    with psycopg.connect(db_url, autocommit=True) as conn:
        first, last = conn.execute(
            "SELECT min(queued_at), max(finished_at) FROM executions_execution"
            " WHERE created_at >= %s",
            [mark],
        ).fetchone()  # type: ignore[misc]
    return count / max((last - first).total_seconds(), 1e-6)


def fresh(args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    db_url = bench_database(os.environ["DATABASE_URL"], f"_scale_{args.curve}")
    env = role_env(db_url, LINKFLOW_QUEUE=f"linkflow-bench-scale-{args.curve}")
    prepare_database(env)
    return db_url, env


def processes(args: argparse.Namespace) -> None:
    db_url, env = fresh(args)
    print(f"{args.executions} executions of a 4-node workflow, {args.concurrency} clients")
    print("| web processes | worker processes | executions/s |")
    print("|---|---|---|")
    for web, workers in ((1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 4)):
        with roles(env, port=args.port, web_workers=web, worker_concurrency=workers) as base:
            api = api_client(base)
            flow = api.post("/api/v1/workflows/", json={"name": "p", "graph": pure_graph()})
            run_batch(api, db_url, flow.json()["id"], 30, args.concurrency)  # warm-up
            rate = run_batch(api, db_url, flow.json()["id"], args.executions, args.concurrency)
        print(f"| {web} | {workers} | {rate:.1f} |", flush=True)


def _tree_cpu_seconds(pid: int) -> float:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(x) for x in f.read().split()]
        except (OSError, IndexError):
            continue
    return total / CLK_TCK


def _worker_pid(tag: str) -> int:
    out = subprocess.run(["pgrep", "-f", f"linkflow-bench-scale-{tag}"], capture_output=True)
    pids = [int(p) for p in out.stdout.split()]
    # The session leader (bash -c exec celery ...) is the oldest: its tree holds the pool.
    return min(pids)


def nodes(args: argparse.Namespace) -> None:
    db_url, env = fresh(args)
    tag = str(os.getpid())
    env = {**env, "LINKFLOW_QUEUE": f"linkflow-bench-scale-{tag}"}
    print(f"{args.executions} executions per size, worker concurrency {args.workers}")
    print("| nodes | executions/s | node runs/s | worker CPU ms per execution | per node |")
    print("|---|---|---|---|---|")
    with roles(env, port=args.port, web_workers=1, worker_concurrency=args.workers) as base:
        api = api_client(base)
        worker = _worker_pid(tag)
        for size in (5, 20, 100):
            flow = api.post(
                "/api/v1/workflows/", json={"name": f"c{size}", "graph": chain_graph(size)}
            )
            flow.raise_for_status()
            run_batch(api, db_url, flow.json()["id"], 10, args.concurrency)  # warm-up
            cpu0 = _tree_cpu_seconds(worker)
            rate = run_batch(api, db_url, flow.json()["id"], args.executions, args.concurrency)
            cpu = (_tree_cpu_seconds(worker) - cpu0) * 1000 / args.executions
            print(
                f"| {size} | {rate:.1f} | {rate * size:.0f} | {cpu:.1f} | {cpu / size:.2f} |",
                flush=True,
            )


def _setup_tenants(env: dict[str, str]) -> dict[str, Any]:
    """The bench admin's workspace with 40 workflows, and two other tenants with 5 each."""
    script = f"""
import json
from linkflow.accounts.models import User
from linkflow.accounts.services import user_create
from linkflow.accounts.selectors import workspace_default_for
from workflows.services import workflow_create
from tests.graphs import pure_graph
admin = User.objects.get(email={ADMIN["email"]!r})
rows = []
def flows(user, count):
    ws = workspace_default_for(user=user)
    for n in range(count):
        wf = workflow_create(user=user, workspace=ws, name=f"Flow {{n}}", graph=pure_graph())
        rows.append((str(ws.id), str(wf.id), str(wf.current_version_id)))
    return str(ws.id)
mine = flows(admin, 40)
for t in range(2):
    flows(user_create(email=f"tenant{{t}}@bench.local", password="x-Bench-pass-1"), 5)
print("JSON" + json.dumps({{"workspace": mine, "workflows": rows}}))
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(next(line[4:] for line in out.splitlines() if line.startswith("JSON")))


def list_queries(db_url: str, tenants: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The filters users use, on the bench admin's data."""
    busy = tenants["workflows"][0][1]
    quiet = tenants["workflows"][30][1]
    with psycopg.connect(db_url, autocommit=True) as conn:
        newest = conn.execute("SELECT max(created_at) FROM executions_execution").fetchone()[0]  # type: ignore[index]
    day = newest - timedelta(days=30)
    return {
        "all": {},
        "busy workflow": {"workflow": busy},
        "quiet workflow": {"workflow": quiet},
        "status=failed": {"status": "failed"},
        "status=cancelled (rare)": {"status": "cancelled"},
        "busy workflow + cancelled": {"workflow": busy, "status": "cancelled"},
        "one day, 30 days ago": {
            "started_after": day.isoformat(),
            "started_before": (day + timedelta(days=1)).isoformat(),
        },
        "one week + failed": {
            "status": "failed",
            "started_after": (day - timedelta(days=7)).isoformat(),
            "started_before": day.isoformat(),
        },
    }


def walk(api: httpx.Client, params: dict[str, str], pages: int) -> list[float]:
    """Request times (ms) of the first ``pages`` pages, following the cursor."""
    times = []
    url: str | None = "/api/v1/executions/"
    query: dict[str, str] | None = params
    for _ in range(pages):
        if url is None:
            break
        t0 = time.perf_counter()
        response = api.get(url, params=query)
        times.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
        url, query = response.json()["next"], None
    return times


def measure_list(api: httpx.Client, queries: dict[str, dict[str, str]], args: argparse.Namespace):
    results = {}
    for name, params in queries.items():
        walk(api, params, 2)  # warm the path
        first: list[float] = []
        deep: list[float] = []
        for _ in range(args.rounds):
            times = walk(api, params, args.pages)
            first.append(times[0])
            deep += times[1:]
        results[name] = (first, deep)
    return results


class InProcess:
    """The list API called inside this process (Django's test client, the bench admin
    signed in): per page, the wall time, this thread's CPU time and the time in SQL. CPU
    and SQL time hold still on a busy machine where wall times (HTTP) wander."""

    def __init__(self, env: dict[str, str]) -> None:
        os.environ.update(env)
        import django

        django.setup()
        from rest_framework.test import APIClient

        from linkflow.accounts.models import User

        self.client = APIClient()
        self.client.force_authenticate(User.objects.get(email=ADMIN["email"]))
        # As the roles do (linkflow/core/gc_freeze.py): without it this process's own
        # full collections (Django loaded here too) showed up as 100 ms pages.
        from linkflow.core.gc_freeze import startup_freeze

        startup_freeze()

    def walk(self, params: dict[str, str], pages: int) -> list[tuple[float, float, float, int]]:
        """Per page: wall ms, CPU ms, SQL ms, and the buffers (8 kB pages) PostgreSQL
        touched for the page's list query (EXPLAIN ANALYZE BUFFERS after the request):
        the one figure no other load on the machine can disturb."""
        from django.db import connection

        sql = [0.0]
        listed: list[tuple[str, Any]] = []

        def timed(execute, query, params_, many, context):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return execute(query, params_, many, context)
            finally:
                sql[0] += time.perf_counter() - t0
                if 'FROM "executions_execution"' in query and "LIMIT" in query:
                    listed.append((query, params_))

        samples = []
        url: str | None = "/api/v1/executions/"
        query: dict[str, str] | None = params
        for _ in range(pages):
            if url is None:
                break
            sql[0] = 0.0
            listed.clear()
            with connection.execute_wrapper(timed):
                wall0, cpu0 = time.perf_counter(), time.thread_time()
                response = self.client.get(url, query, HTTP_HOST="127.0.0.1")
                wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
            assert response.status_code == 200, response.content[:300]
            buffers = 0
            with connection.cursor() as cursor:
                for text, args in listed:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + text, args)
                    plan = cursor.fetchone()[0][0]["Plan"]
                    buffers += plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
            samples.append((wall * 1000, cpu * 1000, sql[0] * 1000, buffers))
            url, query = response.json()["next"], None
        return samples


def stored(args: argparse.Namespace) -> None:
    db_url, env = fresh(args)
    tenants = _setup_tenants(env)
    sizes = [int(s) for s in args.sizes.split(",")]
    loaded = 0
    rows: list[str] = []
    probe_in = InProcess(env)
    with roles(env, port=args.port, web_workers=1, worker_concurrency=2) as base:
        api = api_client(base)
        probe = api.post("/api/v1/workflows/", json={"name": "probe", "graph": pure_graph()})
        for size in sizes:
            t0 = time.perf_counter()
            bulk_load_history(
                db_url,
                workspaces=[tenants["workspace"]],
                workflows=tenants["workflows"],
                count=size - loaded,
            )
            loaded = size
            print(
                f"loaded {size:,} executions in all ({time.perf_counter() - t0:.0f}s)", flush=True
            )
            queries = list_queries(db_url, tenants)
            run_batch(api, db_url, probe.json()["id"], 20, args.concurrency)  # warm-up
            rate = run_batch(api, db_url, probe.json()["id"], args.executions, args.concurrency)
            rows.append(f"| {size:,} | execute path: {rate:.1f} executions/s | | | | |")
            http = measure_list(api, queries, args)
            for name, params in queries.items():
                first, deep = http[name]
                inside = [s for _ in range(args.rounds) for s in probe_in.walk(params, args.pages)]
                rows.append(
                    f"| {size:,} | {name} | {_p(first)} | {_p(deep)} | {len(first) + len(deep)}"
                    f" | {_p([s[1] for s in inside])} | {_p([s[2] for s in inside])}"
                    f" | {_p([s[3] for s in inside], 0)} |"
                )
            print("\n".join(rows[-len(queries) - 1 :]), flush=True)
    print(
        f"\nGET /api/v1/executions/, pages of 50, {args.rounds} walks of up to {args.pages}"
        " pages by the cursor per filter; ms as p50 / p99"
    )
    print(
        "| stored | filter | HTTP first page | HTTP pages 2.. | pages"
        " | in-process CPU per page | SQL per page | buffers per page |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


def _p(values: list[float], digits: int = 1) -> str:
    if not values:
        return "-"
    return f"{percentile(values, 50):.{digits}f} / {percentile(values, 99):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("curve", choices=["processes", "nodes", "stored"])
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="worker concurrency (nodes)")
    parser.add_argument("--sizes", default="10000,1000000", help="stored executions (stored)")
    parser.add_argument("--pages", type=int, default=20, help="pages deep per walk (stored)")
    parser.add_argument("--rounds", type=int, default=10, help="walks per filter (stored)")
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    {"processes": processes, "nodes": nodes, "stored": stored}[args.curve](args)


if __name__ == "__main__":
    main()
