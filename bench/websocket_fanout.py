"""Fan-out of the live progress feed: many WebSocket subscribers on one workspace feed.

Starts the web role (uvicorn) and the worker role (Celery) on PostgreSQL and Redis,
connects S subscribers to `/ws/workspaces/{id}/executions/`, runs N executions of the
4-node pure workflow through the API, and prints the events delivered per second (over
all subscribers), the delay from the worker's publish (`published_at` in each event) to
its receipt by a subscriber (p50, p99, max), and the executions' end-to-end rate
(first queued to last finished, from the database). `--subscribers 0` gives the rate with
nobody listening. A frame carries one event (an object) or several (an array). Not part
of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linkflow REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/websocket_fanout.py --subscribers 200 --executions 200

`--profile-web FILE` runs the web role under cProfile (one web process) and writes FILE.
`--publish-only` measures the publishing side alone, in this process: the events of
`--executions` 4-node executions (10 each, in the recorder's two submissions per
execution), wall and CPU time until all are numbered, logged and broadcast.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.roles import (  # noqa: E402
    ADMIN,
    bench_database,
    percentile,
    role_env,
    start,
    wait_finished,
    wait_http,
    web_command,
)
from tests.graphs import pure_graph  # noqa: E402

FINISHED = "execution.finished"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="API clients executing")
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--queue", default="linkflow-bench-fanout")
    parser.add_argument(
        "--ws-deflate", choices=["true", "false"], default="false", help="as in the Procfile"
    )
    parser.add_argument("--profile-web", help="cProfile the (single) web process into this file")
    parser.add_argument("--publish-only", action="store_true")
    parser.add_argument("--profiled-web", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profiled_web:
        return profiled_web(args.profiled_web, args.port)
    if args.publish_only:
        return publish_only(args.executions)
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    db_url = bench_database(os.environ["DATABASE_URL"])
    env = role_env(db_url, LINKFLOW_QUEUE=args.queue)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    web = web_command(args.port, args.web_workers, ws_deflate=args.ws_deflate)
    if args.profile_web:
        web = [py, __file__, "--profiled-web", args.profile_web, "--port", str(args.port)]
    worker = [py, "-m", "celery", "-A", "linkflow", "worker", "--loglevel", "WARNING"]
    worker += ["--concurrency", str(args.worker_concurrency), "--without-gossip"]
    worker += ["--without-mingle"]
    procs = [start(web, env, out / "web-fanout.log"), start(worker, env, out / "worker-fanout.log")]
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_http(f"{base}/")
        cpu = {"web": cpu_seconds(procs[0].pid), "worker": cpu_seconds(procs[1].pid)}
        client = time.process_time()
        asyncio.run(run(base, args, db_url))
        used = {role: cpu_seconds(procs[i].pid) - cpu[role] for i, role in enumerate(cpu)}
        used["client"] = time.process_time() - client
        print("CPU seconds used: " + ", ".join(f"{k} {v:.1f}" for k, v in used.items()))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


async def run(base: str, args: argparse.Namespace, db_url: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as api:
        access = (await api.post("/api/v1/auth/token/", json=ADMIN)).json()["access"]
        api.headers["Authorization"] = f"Bearer {access}"
        workflow = (
            await api.post("/api/v1/workflows/", json={"name": "fanout", "graph": pure_graph()})
        ).json()
        ws_url = base.replace("http", "ws") + f"/ws/workspaces/{workflow['workspace']}/executions/"
        delays: list[float] = []
        counts = [0] * args.subscribers
        frames = [0] * args.subscribers
        closes: list[object] = []
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
                try:
                    async for raw in socket:
                        received = time.time()
                        frames[index] += 1
                        data = json.loads(raw)
                        for event in data if isinstance(data, list) else [data]:
                            delays.append((received - event["published_at"]) * 1000)
                            counts[index] += 1
                            if event["type"] == FINISHED:
                                finished[index].add(event["execution"])
                        if len(finished[index]) >= args.executions:
                            if all(len(f) >= args.executions for f in finished):
                                done.set()
                            return
                except websockets.ConnectionClosed as closed:
                    closes.append(closed.rcvd.code if closed.rcvd else None)

        readies = [asyncio.Event() for _ in range(args.subscribers)]
        tasks = [asyncio.create_task(subscribe(i, r)) for i, r in enumerate(readies)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
        print(f"{args.subscribers} subscribers connected")
        # The same events straight from Redis: splits the delay into publishing (worker to
        # Redis) and fanning out (Redis through the web role to the subscriber).
        redis_delays: list[float] = []
        stop_tap = threading.Event()
        tap = threading.Thread(
            target=redis_tap, args=(workflow["workspace"], redis_delays, stop_tap)
        )
        tap.start()

        semaphore = asyncio.Semaphore(args.concurrency)

        async def execute(i: int) -> None:
            async with semaphore:
                response = await api.post(
                    f"/api/v1/workflows/{workflow['id']}/execute", json={"input": {"n": i % 10}}
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(execute(i) for i in range(args.executions)))
        if args.subscribers:
            try:
                await asyncio.wait_for(done.wait(), 300)
            except TimeoutError:
                print("not every subscriber saw every execution finish within 300 s")
        else:
            await asyncio.to_thread(wait_finished, db_url, args.executions)
        elapsed = time.perf_counter() - started
        stop_tap.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tap.join()

    print(f"executions end to end: {executions_per_second(db_url):.1f} executions/s")
    if not args.subscribers:
        return
    delivered = sum(counts)
    per_execution = delivered / args.subscribers / args.executions
    print(
        f"{args.executions} executions, {args.subscribers} subscribers: "
        f"{delivered} events delivered in {elapsed:.1f} s = {delivered / elapsed:,.0f} events/s "
        f"in {sum(frames)} frames ({per_execution:.1f} events per execution per subscriber; "
        f"min/max per subscriber {min(counts)}/{max(counts)}; closed early: {closes or 'none'})"
    )
    print(
        f"publish -> receipt delay: p50 {percentile(delays, 50):.1f} ms, "
        f"p99 {percentile(delays, 99):.1f} ms, max {max(delays):.1f} ms"
    )
    if redis_delays:
        print(
            f"publish -> on Redis pub/sub: p50 {percentile(redis_delays, 50):.1f} ms, "
            f"p99 {percentile(redis_delays, 99):.1f} ms ({len(redis_delays)} events)"
        )


def redis_tap(workspace: str, delays: list[float], stop: threading.Event) -> None:
    """Record each event's delay from its publish to its arrival on the Redis channel.

    A thread with its own connection: a task on the client's busy event loop would add
    the loop's own lag to what it measures.
    """
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"linkflow:feed:workspace.{workspace}.executions")
    while not stop.is_set():
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            received = time.time()
            for text in message["data"].decode().split("\n"):
                delays.append((received - json.loads(text)["published_at"]) * 1000)
    pubsub.close()
    client.close()


def publish_only(executions: int) -> None:
    """Time the publisher: what a worker process spends sending its executions' events."""
    import uuid

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkflow.settings")
    django.setup()
    from executions.feeds import publisher, vocabulary

    def execution_events(execution: str, workspace: str) -> tuple[list[dict], list[dict]]:
        def build(type: str, **data: object) -> dict:
            return vocabulary.event_build(
                type=type, execution_id=execution, workspace_id=workspace, workflow_id="w", **data
            )

        nodes = [
            build(kind, node_id=f"n{i}", status="succeeded")
            for i in range(4)
            for kind in (vocabulary.NODE_STARTED, vocabulary.NODE_FINISHED)
        ]
        finished = build(vocabulary.EXECUTION_FINISHED, status="succeeded")
        return [build(vocabulary.EXECUTION_STARTED)], [*nodes, finished]

    workspace = str(uuid.uuid4())
    batches = [execution_events(str(uuid.uuid4()), workspace) for _ in range(executions)]
    publisher.events_flush()  # the publisher thread and its connection are up
    wall, cpu = time.perf_counter(), time.process_time()
    for started, rest in batches:
        publisher.events_publish_on_commit(started)
        publisher.events_publish_on_commit(rest)
    publisher.events_flush(timeout=120)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"published {executions * 10} events of {executions} executions: "
        f"{wall * 1000 / executions:.2f} ms wall, {cpu * 1000 / executions:.2f} ms CPU "
        "per execution"
    )


def profiled_web(path: str, port: int) -> None:
    """The web role in this process under cProfile; the stats are written when it stops."""
    import cProfile
    import signal

    import uvicorn

    # uvicorn re-raises SIGTERM after its graceful shutdown, which would kill the process
    # before the stats are written.
    signal.raise_signal = lambda signum: None
    config = uvicorn.Config(
        "linkflow.asgi:application",
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_per_message_deflate=False,
        forwarded_allow_ips=os.environ.get("LINKFLOW_TRUSTED_PROXIES", ""),
    )
    profile = cProfile.Profile()
    profile.enable()
    try:
        uvicorn.Server(config).run()
    finally:
        profile.disable()
        profile.dump_stats(path)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and all its descendants (Linux /proc)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def executions_per_second(db_url: str) -> float:
    """First queued to last finished over every finished execution."""
    with psycopg.connect(db_url) as conn:
        first, last, count = conn.execute(
            "SELECT min(queued_at), max(finished_at), count(*) FROM executions_execution "
            "WHERE finished_at IS NOT NULL"
        ).fetchone()
    return count / (last - first).total_seconds()


if __name__ == "__main__":
    main()
