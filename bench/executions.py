"""Throughput and latency of executions through the API with the Procfile roles running.

Starts the web role (uvicorn) and the worker role (Celery) against PostgreSQL and Redis,
pushes N executions of a 4-node workflow with no outside calls through
`POST /api/v1/workflows/{id}/execute` from C client threads, waits until all finish, and
prints executions/s and queued-to-finished latency. Not part of the test suite.

    .venv/bin/python bench/executions.py --executions 2000 --concurrency 16
    .venv/bin/python bench/executions.py --baseline /work/wt/base   # before vs after

With ``--baseline DIR`` the same run is made twice, back to back, first against the
checkout DIR (its own code, its own fresh database), then against this one, and the
ratio (this / baseline) is printed: one run, two checkouts, no figures from other runs.

Needs DATABASE_URL (PostgreSQL; a database `<name>_bench` is dropped and created) and
REDIS_URL (a bench-only queue is used). Loopback only; every process it starts is ended.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.roles import (  # noqa: E402
    api_client,
    bench_database,
    percentile,
    prepare_database,
    role_env,
    roles,
    wait_finished,
)
from tests.graphs import pure_graph  # noqa: E402

WARM_UP = 50


@dataclass
class Figures:
    executions: int
    not_succeeded: int
    node_runs: int
    submit_rate: float
    request_p50: float
    request_p99: float
    throughput: float
    latency_p50: float
    latency_p99: float
    latency_mean: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout to run first, for the ratio"
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")

    checkouts = [("this", ROOT)]
    if args.baseline:
        checkouts.insert(0, ("baseline", args.baseline.resolve()))
    results: dict[str, Figures] = {}
    for label, checkout in checkouts:
        results[label] = measure(checkout, args, tag=label)
        print(f"-- {label}: {checkout}")
        print_figures(args, results[label])
    if args.baseline:
        before, after = results["baseline"], results["this"]
        print("-- ratio this / baseline (one run)")
        print(f"API submit rate:        x{after.submit_rate / before.submit_rate:.2f}")
        print(f"end-to-end throughput:  x{after.throughput / before.throughput:.2f}")
        print(f"queued->finished p99:   x{after.latency_p99 / before.latency_p99:.2f}")


def measure(checkout: Path, args: argparse.Namespace, *, tag: str) -> Figures:
    """Fresh database, the roles of ``checkout``, the load; the figures."""
    db_url = bench_database(os.environ["DATABASE_URL"])
    env = role_env(db_url, checkout=checkout)
    prepare_database(env, checkout=checkout)
    with roles(
        env,
        port=args.port,
        web_workers=args.web_workers,
        worker_concurrency=args.worker_concurrency,
        checkout=checkout,
        tag=f"executions-{tag}",
    ) as base:
        return run(base, args, db_url)


def run(base: str, args: argparse.Namespace, db_url: str) -> Figures:
    api = api_client(base)
    workflow = api.post("/api/v1/workflows/", json={"name": "bench", "graph": pure_graph()})
    url = f"{base}/api/v1/workflows/{workflow.json()['id']}/execute"
    local = threading.local()
    request_ms: list[float] = []

    def fire(i: int) -> None:
        client = getattr(local, "client", None) or httpx.Client(headers=api.headers, timeout=30)
        local.client = client
        t0 = time.perf_counter()
        response = client.post(url, json={"input": {"n": i % 10}})
        request_ms.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()

    # Warm-up so connection pools and imports are not part of the figures.
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(fire, range(WARM_UP)))
    wait_finished(db_url, WARM_UP)
    request_ms.clear()

    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(fire, range(args.executions)))
    submitted = time.perf_counter() - started
    wait_finished(db_url, WARM_UP + args.executions)
    return figures(args, db_url, submitted, request_ms)


def figures(
    args: argparse.Namespace, db_url: str, submitted: float, request_ms: list[float]
) -> Figures:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT queued_at, finished_at, status FROM executions_execution "
            f"ORDER BY queued_at OFFSET {WARM_UP}"
        ).fetchall()
        node_runs = conn.execute("SELECT count(*) FROM executions_noderun").fetchone()[0]
    span = (max(r[1] for r in rows) - min(r[0] for r in rows)).total_seconds()
    latency = [(r[1] - r[0]).total_seconds() * 1000 for r in rows]
    return Figures(
        executions=len(rows),
        not_succeeded=sum(1 for r in rows if r[2] != "succeeded"),
        node_runs=node_runs,
        submit_rate=args.executions / submitted,
        request_p50=percentile(request_ms, 50),
        request_p99=percentile(request_ms, 99),
        throughput=len(rows) / span,
        latency_p50=percentile(latency, 50),
        latency_p99=percentile(latency, 99),
        latency_mean=statistics.mean(latency),
    )


def print_figures(args: argparse.Namespace, f: Figures) -> None:
    print(
        f"web uvicorn x{args.web_workers}  worker concurrency={args.worker_concurrency}  "
        f"client concurrency={args.concurrency}"
    )
    print(f"executions: {f.executions} ({f.not_succeeded} not succeeded), node runs: {f.node_runs}")
    print(
        f"API submit rate:        {f.submit_rate:8.1f} requests/s "
        f"(p50 {f.request_p50:.1f} ms, p99 {f.request_p99:.1f} ms)"
    )
    print(f"end-to-end throughput:  {f.throughput:8.1f} executions/s")
    print(
        f"queued->finished:       p50 {f.latency_p50:.0f} ms, "
        f"p99 {f.latency_p99:.0f} ms, mean {f.latency_mean:.0f} ms"
    )


if __name__ == "__main__":
    main()
