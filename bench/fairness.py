"""Fairness across workspaces: a quiet workspace's queued-to-started latency while another
floods, with the Procfile roles running (uvicorn web, Celery worker) on PostgreSQL and Redis.

The noisy workspace submits N executions of a 4-node workflow as fast as C client threads
can; meanwhile the quiet workspace submits one execution every --quiet-every seconds. The
figures are the quiet executions' started_at - queued_at (p50, p99, max) and how many
noisy executions started between each quiet submission and its start (the ordering bound:
at most LINKFLOW_DISPATCH_WINDOW). Not part of the test suite.

    .venv/bin/python bench/fairness.py --noisy 2000 --quiet-every 0.5

Needs DATABASE_URL (PostgreSQL; a database `<name>_bench` is dropped and created) and
REDIS_URL (a bench-only queue is used). Loopback only; every process it starts is ended.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.roles import (  # noqa: E402
    ADMIN,
    bench_database,
    percentile,
    role_env,
    start,
    wait_http,
    web_command,
    worker_command,
)
from tests.graphs import pure_graph  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--noisy", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quiet-every", type=float, default=0.5)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    db_url = bench_database(os.environ["DATABASE_URL"])
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    env = role_env(db_url, LINKFLOW_QUEUE="linkflow-bench-fairness")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True)
    procs = [
        start(web_command(args.port, 2), env, out / "fairness-web.log"),
        start(worker_command(args.worker_concurrency), env, out / "fairness-worker.log"),
    ]
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_http(f"{base}/")
        run(base, args, db_url)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def run(base: str, args: argparse.Namespace, db_url: str) -> None:
    access = httpx.post(f"{base}/api/v1/auth/token/", json=ADMIN, timeout=60).json()["access"]
    headers = {"Authorization": f"Bearer {access}"}
    api = httpx.Client(base_url=base, headers=headers, timeout=30)
    quiet_space = api.post("/api/v1/workspaces/", json={"name": "quiet"}).json()["id"]
    noisy_flow = api.post("/api/v1/workflows/", json={"name": "noisy", "graph": pure_graph()})
    quiet_flow = api.post(
        "/api/v1/workflows/",
        json={"name": "quiet", "graph": pure_graph(), "workspace": quiet_space},
    )
    noisy_url = f"/api/v1/workflows/{noisy_flow.json()['id']}/execute"
    quiet_url = f"/api/v1/workflows/{quiet_flow.json()['id']}/execute"
    local = threading.local()

    def fire(i: int) -> None:
        client = getattr(local, "client", None) or httpx.Client(
            base_url=base, headers=headers, timeout=30
        )
        local.client = client
        client.post(noisy_url, json={"input": {"n": i}}).raise_for_status()

    quiet_ids: list[str] = []
    flooding = threading.Event()
    flooding.set()

    def trickle() -> None:
        while flooding.is_set():
            quiet_ids.append(api.post(quiet_url, json={"input": {"n": 0}}).json()["id"])
            time.sleep(args.quiet_every)

    quiet = threading.Thread(target=trickle)
    quiet.start()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(fire, range(args.noisy)))
    flooding.clear()
    quiet.join()
    wait_all(db_url, args.noisy + len(quiet_ids))
    report(db_url, quiet_ids, args)


def wait_all(db_url: str, total: int, timeout: float = 1200) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM executions_execution"
                " WHERE status IN ('succeeded', 'failed', 'cancelled')"
            ).fetchone()
            if row and row[0] >= total:
                return
            time.sleep(0.5)
    raise SystemExit("executions did not finish in time")


def report(db_url: str, quiet_ids: list[str], args: argparse.Namespace) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT q.id, extract(epoch FROM q.started_at - q.queued_at),"
            " (SELECT count(*) FROM executions_execution n WHERE n.workspace_id <> q.workspace_id"
            "  AND n.started_at > q.queued_at AND n.started_at < q.started_at)"
            " FROM executions_execution q WHERE q.id = ANY(%s::uuid[])",
            [quiet_ids],
        ).fetchall()
    waits = [float(row[1]) * 1000 for row in rows]
    ahead = [int(row[2]) for row in rows]
    print(
        f"noisy={args.noisy} quiet={len(rows)} worker_concurrency={args.worker_concurrency}\n"
        f"quiet queued->started ms: p50 {statistics.median(waits):.1f}"
        f" p99 {percentile(waits, 99):.1f} max {max(waits):.1f}\n"
        f"noisy executions started ahead of a quiet one: max {max(ahead)},"
        f" mean {statistics.mean(ahead):.1f}"
    )


if __name__ == "__main__":
    main()
