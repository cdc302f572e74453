"""CPU of the web side per request, in one process: the webhook call and the execute API.

Calls Django's WSGI handler directly (no HTTP server, no worker) N times per path and
prints the process CPU milliseconds per request, and the SQL queries one request makes.
The webhook is an async-mode one (the sync wait is the worker's time, not the web's);
between requests, outside the measured time, the queued executions are marked finished
as a worker would (so every request finds a free dispatch slot). The messages enqueued
go to a bench-only queue that is deleted at the end. Run it for two checkouts back to
back and compare the ratio; never compare figures of two runs.

    DATABASE_URL=postgres://...  REDIS_URL=redis://.../n \
      .venv/bin/python bench/web_cpu.py [-n 2000] [--profile]

Needs PostgreSQL and Redis; a database ``<name>_webcpu`` is dropped and created.
"""

import argparse
import functools
import io
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.roles import bench_database  # noqa: E402

GRAPH = {
    "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"method": "POST", "mode": "async"}},
        {"id": "set", "type": "data.set", "params": {"fields": {"x": "{{ json.body.a }}"}}},
    ],
    "edges": [{"source": "hook", "target": "set"}],
}
ADMIN = ("webcpu@example.com", "Webcpu-Passw0rd-!x")
BENCH_CREDENTIAL_KEY = "bGlua2Zsb3ctYmVuY2gtb25seS1ub3QtYS1zZWNyZXQ="  # Fernet: 32 bytes


def environ_for(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        "HTTP_HOST": "127.0.0.1",
    }
    for name, value in headers.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def call(app, method: str, path: str, body: object = None, headers: dict | None = None):
    raw = json.dumps(body).encode() if body is not None else b""
    env = environ_for(method, path, raw, headers or {})
    env["wsgi.input"] = io.BytesIO(raw)
    status: list[str] = []
    chunks = app(env, lambda s, h, *a: status.append(s))
    out = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return int(status[0].split()[0]), out


def queries_of(run) -> list[str]:
    """The SQL statements ``run()`` sends."""
    from django.db import connection

    sent: list[str] = []

    def record(execute, sql, *rest):
        sent.append(sql)
        return execute(sql, *rest)

    with connection.execute_wrapper(record):
        run()
    return sent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of each path")
    a = ap.parse_args()
    os.environ["DATABASE_URL"] = bench_database(os.environ["DATABASE_URL"], "_webcpu")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="linkflow.settings",
        LINKFLOW_QUEUE="linkflow-webcpu",
        LINKFLOW_ADMIN_EMAIL=ADMIN[0],
        LINKFLOW_ADMIN_PASSWORD=ADMIN[1],
        LINKFLOW_DEFAULT_PLAN="unlimited",
        LINKFLOW_RATE_DEFAULT="100000000/min",
        LINKFLOW_RATE_EXECUTE="100000000/min",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="127.0.0.1",
    )
    os.environ.setdefault("SECRET_KEY", "linkflow-webcpu-bench-only-not-a-secret-0123456789")
    os.environ.setdefault("LINKFLOW_CREDENTIAL_KEYS", BENCH_CREDENTIAL_KEY)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("ensure_admin", stdout=io.StringIO())
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    app = get_wsgi_application()
    _, tok = call(app, "POST", "/api/v1/auth/token/", {"email": ADMIN[0], "password": ADMIN[1]})
    auth = {"Authorization": "Bearer " + json.loads(tok)["access"]}
    _, wf = call(app, "POST", "/api/v1/workflows/", {"name": "webcpu", "graph": GRAPH}, auth)
    wf_id = json.loads(wf)["id"]
    call(app, "PATCH", f"/api/v1/workflows/{wf_id}/", {"active": True}, auth)
    _, detail = call(app, "GET", f"/api/v1/workflows/{wf_id}/", None, auth)
    hook = urlparse(json.loads(detail)["webhooks"][0]["url"]).path
    paths = {
        "webhook (async)": ("POST", hook, {"a": 1}, {}, 202),
        "execute": ("POST", f"/api/v1/workflows/{wf_id}/execute", {"input": {"a": 1}}, auth, 202),
    }

    def finish() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE executions_execution SET status = 'succeeded' WHERE status = 'queued'"
            )

    for label, (method, path, body, headers, expected) in paths.items():
        for _ in range(50):  # warm caches, pools and lazy imports
            status, out = call(app, method, path, body, headers)
            assert status == expected, (label, status, out[:300])
            finish()
        queries = queries_of(functools.partial(call, app, method, path, body, headers))
        profiler = None
        if a.profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
        spent = 0.0
        for _ in range(a.n):
            c0 = time.process_time()
            call(app, method, path, body, headers)
            spent += time.process_time() - c0
            finish()  # the worker's part, not counted: frees the dispatch slot
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        print(f"{label}: {spent / a.n * 1000:.2f} CPU ms/request, {len(queries)} queries")
        for sql in queries:
            print("   ", " ".join(sql.split())[:160])
    from executions.feeds.completion import _redis

    _redis().delete("linkflow-webcpu")


if __name__ == "__main__":
    main()
