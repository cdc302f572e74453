"""Fan-out of the live progress feed: many WebSocket subscribers on one workspace feed.

Starts the web role (uvicorn) and the worker role (Celery) on PostgreSQL and Redis,
connects S subscribers to `/ws/workspaces/{id}/executions/`, runs N executions of the
4-node pure workflow through the API, and prints the events delivered per second (over
all subscribers) and the delay from the worker's publish (`published_at` in each event)
to its receipt by a subscriber: p50, p99 and max. Not part of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linkflow REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/websocket_fanout.py --subscribers 200 --executions 200
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.executions import (  # noqa: E402
    ADMIN,
    bench_database,
    percentile,
    role_env,
    start,
    wait_http,
)
from tests.graphs import pure_graph  # noqa: E402

# execution.started, node.started/finished for 4 nodes (one skipped or not), finished.
FINISHED = "execution.finished"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="API clients executing")
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    env = role_env(bench_database(os.environ["DATABASE_URL"]))
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    web = [py, "-m", "uvicorn", "linkflow.asgi:application", "--host", "127.0.0.1"]
    web += ["--port", str(args.port), "--workers", str(args.web_workers)]
    web += ["--no-access-log", "--log-level", "warning"]
    worker = [py, "-m", "celery", "-A", "linkflow", "worker", "--loglevel", "WARNING"]
    worker += ["--concurrency", str(args.worker_concurrency), "--without-gossip"]
    worker += ["--without-mingle"]
    procs = [start(web, env, out / "web.log"), start(worker, env, out / "worker.log")]
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_http(f"{base}/")
        asyncio.run(run(base, args))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


async def run(base: str, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as api:
        access = (await api.post("/api/v1/auth/token/", json=ADMIN)).json()["access"]
        api.headers["Authorization"] = f"Bearer {access}"
        workflow = (
            await api.post("/api/v1/workflows/", json={"name": "fanout", "graph": pure_graph()})
        ).json()
        ws_url = base.replace("http", "ws") + f"/ws/workspaces/{workflow['workspace']}/executions/"
        delays: list[float] = []
        counts = [0] * args.subscribers
        done = asyncio.Event()
        finished: list[set[str]] = [set() for _ in range(args.subscribers)]

        async def subscribe(index: int, ready: asyncio.Event) -> None:
            async with websockets.connect(
                ws_url,
                subprotocols=["bearer", access],
                origin=base,
                max_queue=None,
                open_timeout=60,
            ) as socket:
                ready.set()
                async for raw in socket:
                    event = json.loads(raw)
                    delays.append((time.time() - event["published_at"]) * 1000)
                    counts[index] += 1
                    if event["type"] == FINISHED:
                        finished[index].add(event["execution"])
                        if all(len(f) >= args.executions for f in finished):
                            done.set()
                        if len(finished[index]) >= args.executions:
                            return

        readies = [asyncio.Event() for _ in range(args.subscribers)]
        tasks = [asyncio.create_task(subscribe(i, r)) for i, r in enumerate(readies)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
        print(f"{args.subscribers} subscribers connected")

        semaphore = asyncio.Semaphore(args.concurrency)

        async def execute(i: int) -> None:
            async with semaphore:
                response = await api.post(
                    f"/api/v1/workflows/{workflow['id']}/execute", json={"input": {"n": i % 10}}
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(execute(i) for i in range(args.executions)))
        try:
            await asyncio.wait_for(done.wait(), 300)
        except TimeoutError:
            print("not every subscriber saw every execution finish within 300 s")
        elapsed = time.perf_counter() - started
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    delivered = sum(counts)
    per_execution = delivered / args.subscribers / args.executions
    print(
        f"{args.executions} executions, {args.subscribers} subscribers: "
        f"{delivered} events delivered in {elapsed:.1f} s = {delivered / elapsed:,.0f} events/s "
        f"({per_execution:.1f} events per execution per subscriber; "
        f"min/max per subscriber {min(counts)}/{max(counts)})"
    )
    print(
        f"publish -> receipt delay: p50 {percentile(delays, 50):.1f} ms, "
        f"p99 {percentile(delays, 99):.1f} ms, max {max(delays):.1f} ms"
    )


if __name__ == "__main__":
    main()
