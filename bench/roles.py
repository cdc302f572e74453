"""What the bench scripts share: the bench database, the roles as the Procfile runs them
(started, waited for, ended), a signed-in API client, percentiles, and a bulk loader of a
realistic execution history. Not part of the test suite.

Every script runs the roles from the checkout it is given (``ROOT`` by default) with
``PYTHONPATH`` pointing at that checkout, so a second checkout (a baseline) runs its own
code, not the one installed in the shared venv.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"

ADMIN = {"email": "bench@linkflow.local", "password": "bench-password-123"}
# The roles run in production mode (DEBUG off, URLs set), which requires explicit keys.
BENCH_SECRET_KEY = "linkflow-bench-only-not-a-secret"
BENCH_CREDENTIAL_KEY = "bGlua2Zsb3ctYmVuY2gtb25seS1ub3QtYS1zZWNyZXQ="  # Fernet: 32 bytes
FINISHED_SQL = "status IN ('succeeded', 'failed', 'cancelled')"


def bench_database(url: str, suffix: str = "_bench") -> str:
    """Drop and create ``<name><suffix>`` next to the database ``url`` names; its URL."""
    parsed = urlparse(url)
    name = (parsed.path.lstrip("/") or "linkflow") + suffix
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parsed._replace(path=f"/{name}"))


def role_env(db_url: str, *, checkout: Path = ROOT, **extra: str) -> dict[str, str]:
    """The environment the benchmarked roles run with: production mode on the bench
    database, an unlimited plan and rate limits out of the way (they are not measured)."""
    return {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "DATABASE_URL": db_url,
        "LINKFLOW_QUEUE": "linkflow-bench",
        "LINKFLOW_ADMIN_EMAIL": ADMIN["email"],
        "LINKFLOW_ADMIN_PASSWORD": ADMIN["password"],
        "DJANGO_SETTINGS_MODULE": "linkflow.settings",
        "DEBUG": "false",
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


def start(
    cmd: list[str], env: dict[str, str], log: Path, *, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(exist_ok=True)
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """End the processes this script started (and wait for them)."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prepare_database(env: dict[str, str], *, checkout: Path = ROOT) -> None:
    """Migrate the bench database and make the bench admin."""
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=checkout, env=env, check=True)
    subprocess.run([py, "manage.py", "ensure_admin"], cwd=checkout, env=env, check=True)


def procfile(checkout: Path = ROOT) -> dict[str, str]:
    """The checkout's Procfile: role name to command line."""
    entries = {}
    for line in (checkout / "Procfile").read_text().splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


@contextlib.contextmanager
def roles(
    env: dict[str, str],
    *,
    port: int,
    web_workers: int = 2,
    worker_concurrency: int | None = 4,
    checkout: Path = ROOT,
    tag: str = "bench",
) -> Iterator[str]:
    """Run the web role (and the worker and beat roles unless ``worker_concurrency`` is
    None) of ``checkout`` as its own Procfile says (its server, its flags), sized by
    WEB_CONCURRENCY and WORKER_CONCURRENCY; yields the web base URL once it answers and
    ends every process (each role's whole process group) on the way out."""
    commands = procfile(checkout)
    wanted = ["web"] + (["worker", "beat"] if worker_concurrency else [])
    sized = {
        **env,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(web_workers),
        "WORKER_CONCURRENCY": str(worker_concurrency or 1),
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    }
    procs = []
    try:
        for role in wanted:
            log = OUT / f"{tag}-{role}.log"
            log.parent.mkdir(exist_ok=True)
            procs.append(
                subprocess.Popen(
                    ["bash", "-c", f"exec {commands[role]}"],
                    cwd=checkout,
                    env=sized,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/")
        yield base
    finally:
        _stop_groups(procs)


def _stop_groups(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def api_client(base: str, **kwargs: Any) -> httpx.Client:
    """An httpx client signed in as the bench admin (JWT)."""
    access = httpx.post(f"{base}/api/v1/auth/token/", json=ADMIN, timeout=60).json()["access"]
    return httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {access}"}, timeout=30, **kwargs
    )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def finished_count(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM executions_execution WHERE {FINISHED_SQL}")
        return int(row.fetchone()[0])  # type: ignore[index]


def wait_finished(db_url: str, total: int, timeout: float = 600) -> None:
    """Wait until ``total`` executions of the bench database are finished."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(f"SELECT count(*) FROM executions_execution WHERE {FINISHED_SQL}")
            if row.fetchone()[0] >= total:  # type: ignore[index]
                return
            time.sleep(0.2)
    raise SystemExit("executions did not finish in time")


# A stored history's shape: most executions succeed, some fail, a few are cancelled (the
# rare status users filter by), a handful still wait; mostly API and webhook runs, a few
# editor test runs (listed apart). Cumulative shares, read by bulk_load_history's CASE.
STATUS_SHARES = (("succeeded", 0.90), ("failed", 0.985), ("cancelled", 0.995), ("waiting", 1.0))
MODE_SHARES = (("webhook", 0.55), ("api", 0.85), ("schedule", 0.98), ("test", 1.0))


def _case(column: str, shares: tuple[tuple[str, float], ...]) -> str:
    whens = " ".join(f"WHEN {column} < {bound} THEN '{value}'" for value, bound in shares[:-1])
    return f"CASE {whens} ELSE '{shares[-1][0]}' END"


def bulk_load_history(
    db_url: str,
    *,
    workspaces: list[str],
    workflows: list[tuple[str, str, str]],
    count: int,
    days: int = 90,
    node_run_every: int = 20,
    seed: float = 0.42,
) -> None:
    """Insert ``count`` finished executions in one statement (``generate_series``), spread
    over the last ``days`` days, over ``workflows`` ((workspace, workflow, version) ids;
    the first ones take more runs, as a few busy workflows do) and statuses/modes as
    STATUS_SHARES and MODE_SHARES say; every ``node_run_every``-th gets four NodeRuns.
    Months without a partition get one first (PostgreSQL); then VACUUM (ANALYZE)."""
    del workspaces  # each workflow names its workspace
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT setseed(%s)", [seed])
        _ensure_month_partitions(conn, days)
        # The rows point at workflows made just before: skip the per-row foreign-key
        # triggers (millions of them) for this load only (the bench connects as a superuser).
        conn.execute("SET session_replication_role = replica")
        conn.execute("CREATE TEMP TABLE bench_flows (n int, ws uuid, wf uuid, v uuid)")
        with conn.cursor().copy("COPY bench_flows FROM STDIN") as copy:
            for n, row in enumerate(workflows):
                copy.write_row((n, *row))
        flows = len(workflows)
        conn.execute(
            f"""
            INSERT INTO executions_execution (
                id, created_at, updated_at, workspace_id, workflow_id, version_id, status,
                mode, trigger_input, error, queued_at, dispatched_at, started_at,
                finished_at, lease_owner, lost_leases, trigger_node_id, rerun_from_node,
                depth, inherited_secrets, dedupe_fingerprint)
            SELECT gen_random_uuid(), at, at, f.ws, f.wf, f.v, {_case("s", STATUS_SHARES)},
                {_case("m", MODE_SHARES)}, jsonb_build_object('n', g), NULL, at, at,
                at + interval '15 ms', at + interval '15 ms' + d * interval '1 s', '', 0,
                '', '', 0, '', ''
            FROM (
                SELECT g, random() AS s, random() AS m, random() AS d,
                    now() - random() * interval '{int(days)} days' AS at,
                    -- a skewed pick: workflow 0 busiest, the tail quiet
                    floor({flows} * power(random(), 2))::int AS n
                FROM generate_series(1, %s) AS g
            ) r JOIN bench_flows f USING (n)
            """,
            [count],
        )
        conn.execute(
            f"""
            INSERT INTO executions_noderun (
                id, created_at, updated_at, execution_id, execution_created_at, node_id,
                node_type, status, attempt, sequence, input, output, error, started_at,
                finished_at, resume_at, item_meta, iteration)
            SELECT gen_random_uuid(), e.created_at, e.created_at, e.id, e.created_at,
                'node' || k, CASE WHEN k = 0 THEN 'trigger.manual' ELSE 'data.set' END,
                'succeeded', 1, k, '[{{"n": 1}}]', '{{"main": [{{"n": 1}}]}}', NULL,
                e.started_at, e.finished_at, NULL, '{{}}', 0
            FROM (SELECT * FROM executions_execution e
                  WHERE NOT EXISTS (SELECT 1 FROM executions_noderun r
                                    WHERE r.execution_id = e.id)
                    AND abs(hashtext(e.id::text)) % {int(node_run_every)} = 0) e
            CROSS JOIN generate_series(0, 3) AS k
            """
        )
        # VACUUM too: a history this old has been through autovacuum in a real install,
        # which sets the visibility map that index-only scans rely on.
        conn.execute("VACUUM (ANALYZE) executions_execution")
        conn.execute("VACUUM (ANALYZE) executions_noderun")


def _ensure_month_partitions(conn: psycopg.Connection[Any], days: int) -> None:
    """One partition per month of the history, made as the beat's partition upkeep makes
    them, so the history does not pile up in the default partition."""
    partitioned = conn.execute(
        "SELECT to_regclass('executions_execution_default') IS NOT NULL"
    ).fetchone()[0]  # type: ignore[index]
    if not partitioned:
        return
    months = conn.execute(
        "SELECT DISTINCT date_trunc('month', d AT TIME ZONE 'UTC') FROM generate_series("
        "now() - %s * interval '1 day', now(), interval '1 day') AS d",
        [days],
    ).fetchall()
    for (start,) in months:
        name = f"y{start.year:04d}m{start.month:02d}"
        for (table,) in (("executions_execution",), ("executions_noderun",)):
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table}_{name} PARTITION OF {table} FOR VALUES"
                f" FROM ('{start.isoformat()}+00') TO"
                f" (('{start.isoformat()}'::timestamp + interval '1 month') AT TIME ZONE 'UTC')"
            )
