"""Throughput and latency of executions through the API with the Procfile roles running.

Starts the web role (uvicorn or gunicorn) and the worker role (Celery) against PostgreSQL
and Redis, pushes N executions of a 4-node workflow with no outside calls through
`POST /api/v1/workflows/{id}/execute` from C client threads, waits until all finish, and
prints executions/s and queued-to-finished latency. Not part of the test suite.

    .venv/bin/python bench/executions.py --executions 2000 --concurrency 16

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
from urllib.parse import urlparse, urlunparse

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.graphs import pure_graph  # noqa: E402

ADMIN = {"email": "bench@linkflow.local", "password": "bench-password-123"}
# The roles run in production mode (DEBUG off, URLs set), which requires explicit keys.
BENCH_SECRET_KEY = "linkflow-bench-only-not-a-secret"
BENCH_CREDENTIAL_KEY = "bGlua2Zsb3ctYmVuY2gtb25seS1ub3QtYS1zZWNyZXQ="  # Fernet: 32 bytes


def bench_database(url: str) -> str:
    parsed = urlparse(url)
    name = (parsed.path.lstrip("/") or "linkflow") + "_bench"
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parsed._replace(path=f"/{name}"))


def role_env(db_url: str, **extra: str) -> dict[str, str]:
    """The environment the benchmarked roles run with: production mode on the bench
    database, an unlimited plan and rate limits out of the way (they are not measured)."""
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "LINKFLOW_QUEUE": "linkflow-bench",
        "LINKFLOW_ADMIN_EMAIL": ADMIN["email"],
        "LINKFLOW_ADMIN_PASSWORD": ADMIN["password"],
        "DJANGO_SETTINGS_MODULE": "linkflow.settings",
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": os.environ.get("SECRET_KEY", BENCH_SECRET_KEY),
        "LINKFLOW_CREDENTIAL_KEYS": os.environ.get(
            "LINKFLOW_CREDENTIAL_KEYS", BENCH_CREDENTIAL_KEY
        ),
        "LINKFLOW_DEFAULT_PLAN": "unlimited",
        "LINKFLOW_RATE_DEFAULT": "1000000/min",
        "LINKFLOW_RATE_EXECUTE": "1000000/min",
        "LINKFLOW_RATE_AUTH": "1000/min",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        **extra,
    }


def web_command(port: int, workers: int, *, ws_deflate: str = "false") -> list[str]:
    """The web role as the Procfile runs it (uvicorn serving linkflow.asgi), on 127.0.0.1."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "linkflow.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--ws-per-message-deflate",
        ws_deflate,
        # As in the Procfile: only LINKFLOW_TRUSTED_PROXIES may name the client's address.
        "--forwarded-allow-ips",
        os.environ.get("LINKFLOW_TRUSTED_PROXIES", ""),
    ]


def worker_command(concurrency: int) -> list[str]:
    """The worker role as the Procfile runs it, at the given prefork concurrency."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "linkflow",
        "worker",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
    ]


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--web", choices=["uvicorn", "gunicorn"], default="uvicorn")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    db_url = bench_database(os.environ["DATABASE_URL"])
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    env = role_env(db_url)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True)

    bind = f"127.0.0.1:{args.port}"
    if args.web == "uvicorn":
        web_cmd = web_command(args.port, args.web_workers)
    else:
        web_cmd = [
            py,
            "-m",
            "gunicorn",
            "linkflow.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(args.web_workers),
            "--threads",
            "4",
        ]
    procs = [
        start(web_cmd, env, out / "web.log"),
        start(worker_command(args.worker_concurrency), env, out / "worker.log"),
    ]
    try:
        base = f"http://{bind}"
        wait_http(f"{base}/")
        run(base, args, db_url)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def run(base: str, args: argparse.Namespace, db_url: str) -> None:
    access = httpx.post(f"{base}/api/v1/auth/token/", json=ADMIN).json()["access"]
    headers = {"Authorization": f"Bearer {access}"}
    workflow = httpx.post(
        f"{base}/api/v1/workflows/", headers=headers, json={"name": "bench", "graph": pure_graph()}
    ).json()
    url = f"{base}/api/v1/workflows/{workflow['id']}/execute"
    local = threading.local()
    request_ms: list[float] = []

    def fire(i: int) -> None:
        client = getattr(local, "client", None) or httpx.Client(headers=headers, timeout=30)
        local.client = client
        t0 = time.perf_counter()
        response = client.post(url, json={"input": {"n": i % 10}})
        request_ms.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()

    # Warm-up so connection pools and imports are not part of the figures.
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(fire, range(50)))
    wait_finished(db_url, 50)
    request_ms.clear()

    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(fire, range(args.executions)))
    submitted = time.perf_counter() - started
    wait_finished(db_url, 50 + args.executions)
    report(args, db_url, submitted, request_ms)


def wait_finished(db_url: str, total: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            done = conn.execute(
                "SELECT count(*) FROM executions_execution WHERE status IN ('succeeded', 'failed')"
            ).fetchone()[0]
            if done >= total:
                return
            time.sleep(0.2)
    raise SystemExit("executions did not finish in time")


def report(
    args: argparse.Namespace, db_url: str, submitted: float, request_ms: list[float]
) -> None:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT queued_at, finished_at, status FROM executions_execution "
            "ORDER BY queued_at OFFSET 50"
        ).fetchall()
        node_runs = conn.execute("SELECT count(*) FROM executions_noderun").fetchone()[0]
    first_queued = min(r[0] for r in rows)
    last_finished = max(r[1] for r in rows)
    span = (last_finished - first_queued).total_seconds()
    latency = [(r[1] - r[0]).total_seconds() * 1000 for r in rows]
    failed = sum(1 for r in rows if r[2] != "succeeded")
    print(
        f"web={args.web} x{args.web_workers}  worker concurrency={args.worker_concurrency}  "
        f"client concurrency={args.concurrency}"
    )
    print(f"executions: {len(rows)} ({failed} not succeeded), node runs stored: {node_runs}")
    print(
        f"API submit rate:        {args.executions / submitted:8.1f} requests/s "
        f"(p50 {percentile(request_ms, 50):.1f} ms, p99 {percentile(request_ms, 99):.1f} ms)"
    )
    print(f"end-to-end throughput:  {len(rows) / span:8.1f} executions/s")
    print(
        f"queued->finished:       p50 {percentile(latency, 50):.0f} ms, "
        f"p99 {percentile(latency, 99):.0f} ms, mean {statistics.mean(latency):.0f} ms"
    )


if __name__ == "__main__":
    main()
