"""Round-trip latency of a sync webhook with the roles running on PostgreSQL and Redis.

Starts the web role (uvicorn) and the worker role (Celery), saves an active 5-node
workflow `trigger.webhook (sync) -> data.set -> flow.if -> data.set / data.set`, then
calls its URL N times at each concurrency and prints requests/s and p50/p99 latency of
the whole round trip (HTTP in, queue, worker, every NodeRun stored, answer out).
Not part of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linkflow REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/webhook_latency.py --requests 400 --concurrency 1 32
"""

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

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

GRAPH = {
    "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"mode": "sync", "method": "POST"}},
        {
            "id": "total",
            "type": "data.set",
            "params": {"fields": {"total": "{{ json.body.price * json.body.quantity }}"}},
        },
        {"id": "big", "type": "flow.if", "params": {"condition": "{{ json.total > 100 }}"}},
        {"id": "gold", "type": "data.set", "params": {"fields": {"tier": "gold"}}},
        {"id": "basic", "type": "data.set", "params": {"fields": {"tier": "basic"}}},
    ],
    "edges": [
        {"source": "hook", "target": "total"},
        {"source": "total", "target": "big"},
        {"source": "big", "target": "gold", "output": "true"},
        {"source": "big", "target": "basic", "output": "false"},
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    env = role_env(bench_database(os.environ["DATABASE_URL"]), LINKFLOW_DB_POOL_MAX="40")
    py = sys.executable
    import subprocess

    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    procs = [
        start(
            web_command(args.port, args.web_workers),
            env,
            out / "web.log",
        ),
        start(worker_command(args.worker_concurrency), env, out / "worker.log"),
    ]
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_http(f"{base}/")
        url = webhook_url(base)
        fire(url, 20, 4)  # warm-up
        for concurrency in args.concurrency:
            report(concurrency, *fire(url, args.requests, concurrency))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def webhook_url(base: str) -> str:
    access = httpx.post(f"{base}/api/v1/auth/token/", json=ADMIN).json()["access"]
    response = httpx.post(
        f"{base}/api/v1/workflows/",
        headers={"Authorization": f"Bearer {access}"},
        json={"name": "hook", "graph": GRAPH, "active": True},
    )
    response.raise_for_status()
    return response.json()["webhooks"][0]["url"]


def fire(url: str, count: int, concurrency: int) -> tuple[float, list[float], int]:
    local = threading.local()
    latencies: list[float] = []
    errors = 0

    def one(i: int) -> None:
        nonlocal errors
        client = getattr(local, "client", None) or httpx.Client(timeout=60)
        local.client = client
        t0 = time.perf_counter()
        response = client.post(url, json={"price": 30, "quantity": i % 7})
        latencies.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200 or "tier" not in response.text:
            errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started, latencies, errors


def report(concurrency: int, elapsed: float, latencies: list[float], errors: int) -> None:
    print(
        f"concurrency {concurrency:>3}: {len(latencies) / elapsed:7.1f} req/s, "
        f"p50 {percentile(latencies, 50):6.1f} ms, p99 {percentile(latencies, 99):6.1f} ms, "
        f"errors {errors}"
    )


if __name__ == "__main__":
    main()
