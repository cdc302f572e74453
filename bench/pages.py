"""How fast the web UI's pages answer, on a workspace with a realistic history.

Creates the bench database next to DATABASE_URL (PostgreSQL), seeds one workspace with
``--workflows`` workflows and ``--executions`` finished executions (four NodeRuns each,
spread over 30 days, daily usage aggregated), starts the web role as the Procfile runs it
(uvicorn, ``--web-workers`` processes), signs in through the form, then fetches each page
``--requests`` times from ``--concurrency`` clients and prints p50/p99 per page.

    .venv/bin/python bench/pages.py --executions 20000 --requests 200 --concurrency 8
"""

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
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
)
from tests.graphs import pure_graph  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workflows", type=int, default=100)
    parser.add_argument("--executions", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")

    db_url = bench_database(os.environ["DATABASE_URL"])
    env = role_env(db_url, LINKFLOW_DEFAULT_PLAN="pro")
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    started = time.perf_counter()
    paths = seed(args.workflows, args.executions)
    print(
        f"seeded {args.workflows} workflows, {args.executions} executions "
        f"in {time.perf_counter() - started:.1f}s"
    )

    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    web = start(
        web_command(args.port, args.web_workers),
        env,
        out / "web-pages.log",
    )
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_http(f"{base}/")
        cookies = sign_in(base)
        measure(base, cookies, paths, args.requests, args.concurrency)
    finally:
        web.terminate()
        web.wait(timeout=30)


def seed(workflow_count: int, execution_count: int) -> dict[str, str]:
    """Workflows, finished executions with their NodeRuns, and 30 days of usage."""
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from billing.usage import usage_aggregate
    from executions.models import Execution, NodeRun
    from linkflow.accounts.models import User
    from linkflow.accounts.services import workspace_ensure_personal
    from workflows.services import workflow_create

    user = User.objects.get(email=ADMIN["email"])
    workspace = workspace_ensure_personal(user=user)
    workflows = [
        workflow_create(user=user, workspace=workspace, name=f"Flow {n}", graph=pure_graph())
        for n in range(workflow_count)
    ]
    now = timezone.now()
    statuses = ["succeeded"] * 8 + ["failed", "cancelled"]
    for chunk_start in range(0, execution_count, 2000):
        executions = []
        for n in range(chunk_start, min(execution_count, chunk_start + 2000)):
            workflow = workflows[n % workflow_count]
            at = now - timedelta(minutes=n * 43200 / execution_count)
            executions.append(
                Execution(
                    workspace=workspace,
                    workflow=workflow,
                    version=workflow.current_version,
                    status=statuses[n % len(statuses)],
                    mode="api",
                    trigger_input={"n": n},
                    queued_at=at,
                    started_at=at,
                    finished_at=at + timedelta(seconds=0.2),
                    created_at=at,
                )
            )
        Execution.objects.bulk_create(executions)
        NodeRun.objects.bulk_create(
            NodeRun(
                execution=e,
                execution_created_at=e.created_at,
                node_id=node["id"],
                node_type=node["type"],
                status="succeeded",
                sequence=i,
                input=[{"n": e.trigger_input["n"]}],
                output={"main": [{"n": 1, "n2": 2}]},
                started_at=e.started_at,
                finished_at=e.finished_at,
            )
            for e in executions
            for i, node in enumerate(pure_graph()["nodes"])
        )
    for days_back in range(31):
        usage_aggregate(day=(now - timedelta(days=days_back)).date())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum would have done after such a load
    newest = Execution.objects.filter(workspace=workspace).order_by("-created_at").first()
    first = workflows[0]
    return {
        "workflow list": "/workflows/",
        "workflow overview": f"/workflows/{first.pk}/",
        "editor": f"/workflows/{first.pk}/edit/",
        "versions": f"/workflows/{first.pk}/versions/",
        "execution list": "/executions/",
        "execution list, one workflow": f"/executions/?workflow={first.pk}",
        "run view": f"/executions/{newest.pk}/",  # type: ignore[union-attr]
        "credentials": "/credentials/",
        "usage": "/usage/",
        "members": "/workspace/members/",
    }


def sign_in(base: str) -> httpx.Cookies:
    with httpx.Client(base_url=base) as client:
        client.get("/accounts/login/")
        token = client.cookies["csrftoken"]
        answer = client.post(
            "/accounts/login/",
            data={
                "username": ADMIN["email"],
                "password": ADMIN["password"],
                "csrfmiddlewaretoken": token,
            },
        )
        if answer.status_code != 302:
            raise SystemExit(f"sign-in failed: {answer.status_code}")
        return client.cookies


def measure(
    base: str, cookies: httpx.Cookies, paths: dict[str, str], requests: int, concurrency: int
) -> None:
    print(f"{'page':32} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'KB':>6}")
    for label, path in paths.items():
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
            client.get(path)  # warm the caches and the connection

            def fetch(_: int, client: httpx.Client = client, path: str = path) -> tuple[float, int]:
                began = time.perf_counter()
                answer = client.get(path)
                if answer.status_code != 200:
                    raise SystemExit(f"{path} answered {answer.status_code}")
                return time.perf_counter() - began, len(answer.content)

            began = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                results = list(pool.map(fetch, range(requests)))
            elapsed = time.perf_counter() - began
        times = [t for t, _ in results]
        print(
            f"{label:32} {percentile(times, 50) * 1000:8.1f} {percentile(times, 99) * 1000:8.1f}"
            f" {requests / elapsed:7.1f} {results[0][1] / 1024:6.1f}"
        )


if __name__ == "__main__":
    main()
