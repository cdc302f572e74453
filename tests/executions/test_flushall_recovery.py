"""Redis flushed (FLUSHALL) with executions queued: all of them still finish after recovery
(issue #5).

The messages live only in Redis; the executions' rows in PostgreSQL are the truth. The
beat re-sends queued executions older than LINKFLOW_QUEUED_GRACE_SECONDS, so a flush
costs time, not work. The test flushes a private redis-server of its own, never the
shared one other runs use.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db.models import Count

from executions.models import Execution, NodeRun
from linkflow.accounts.models import User

from ..conftest import IN_CI, database_url, free_port, stop_process, wait_for
from ..executing import chain, create_workflow

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = "/usr/bin/redis-server"
WORKFLOWS = 4
RUNS_EACH = 2
NODES = ["start", "a", "b", "c"]


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this module's own (no persistence), as a REDIS_URL."""
    binary = shutil.which("redis-server") or REDIS_SERVER
    if not os.path.exists(binary):
        message = "redis-server is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    log = tmp_path_factory.mktemp("redis") / "redis.log"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=log.parent,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"private redis-server did not start: {log.read_text()}")
                time.sleep(0.05)
        yield url
    finally:
        stop_process(proc)


# Runs in a separate process, as a web process would: its broker is the private Redis.
_PRODUCER = """
import json, sys
import django
django.setup()
from executions.services import execution_create
from linkflow.accounts.models import User
from workflows.models import Workflow
user_id, runs, *workflow_ids = sys.argv[1:]
user = User.objects.get(pk=user_id)
ids = [
    str(execution_create(
        user=user, workflow=Workflow.objects.get(pk=w), trigger_input={"n": i}, mode="manual"
    ).pk)
    for w in workflow_ids
    for i in range(int(runs))
]
print(json.dumps(ids))
"""


def _queue_executions(redis_url: str, user: User, workflow_ids: list[str]) -> list[str]:
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "linkflow.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "LINKFLOW_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "LINKFLOW_DB_POOL": "false",
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [sys.executable, "-c", _PRODUCER, str(user.pk), str(RUNS_EACH), *workflow_ids],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_executions_queued_before_a_flushall_all_finish_once_after_recovery(
    private_redis, start_worker, api, owner
):
    graph = chain(*({"id": n, "type": "data.set", "params": {"fields": {n: 1}}} for n in NODES[1:]))
    workflow_ids = [create_workflow(api, graph, name=f"w{i}") for i in range(WORKFLOWS)]
    queue = redis.Redis.from_url(private_redis)
    queue_name = settings.CELERY_TASK_DEFAULT_QUEUE

    # No worker yet: one dispatch window of the workspace is queued, its messages in the
    # private Redis; the rest wait pending in the database (no message to lose).
    execution_ids = _queue_executions(private_redis, owner, workflow_ids)
    assert len(set(execution_ids)) == WORKFLOWS * RUNS_EACH
    window = settings.LINKFLOW_DISPATCH_WINDOW
    assert len(execution_ids) > window
    assert Execution.objects.filter(status="queued").count() == window
    assert queue.llen(queue_name) == window

    queue.flushall()
    assert queue.llen(queue_name) == 0
    assert set(Execution.objects.values_list("status", flat=True)) == {"queued", "pending"}

    # Only the beat's re-send can bring the queued ones back: nothing else knows about them;
    # the pending ones follow as those finish and free their slots.
    start_worker(
        REDIS_URL=private_redis,
        LINKFLOW_QUEUED_GRACE_SECONDS="1",
        LINKFLOW_REQUEUE_STALE_SECONDS="1",
    )
    wait_for(
        lambda: (
            Execution.objects.filter(pk__in=execution_ids, status="succeeded").count()
            == len(execution_ids)
        ),
        timeout=60,
        what="every flushed execution to succeed",
    )

    assert not Execution.objects.exclude(pk__in=execution_ids).exists()
    runs = (
        NodeRun.objects.filter(execution_id__in=execution_ids)
        .values("execution_id", "node_id", "status")
        .annotate(n=Count("id"))
    )
    recorded = {(str(r["execution_id"]), r["node_id"], r["status"]): r["n"] for r in runs}
    # Every node ran exactly once in every execution, though the beat re-sent them each second.
    assert recorded == {
        (execution_id, node, "succeeded"): 1 for execution_id in execution_ids for node in NODES
    }
