"""Messages a worker prefetched are never lost with it. The broker keeps no copy of an
unacked message (no ack emulation, docs/execution-semantics.md "The broker"): a worker
stopped warm puts them back on the queue, and after a SIGKILL the database brings them
back (recovery re-sends a queued execution whose message is presumed lost)."""

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from rest_framework.test import APIClient

from executions.maintenance.recovery import executions_requeue_stale

from ..conftest import wait_for
from ..executing import chain, create_workflow, execute, wait_status
from ..http_server import orders_server

LEASE = "2"  # seconds: the killed worker's running execution is taken over quickly


@dataclass
class Held:
    worker: subprocess.Popen[bytes]
    running: str  # the execution in the worker's one slot
    prefetched: list[str]  # the executions whose messages wait inside the worker
    broker: Any
    queue: str


@pytest.fixture
def held(
    start_worker: Callable[..., subprocess.Popen[bytes]], api: APIClient, settings: Any
) -> Iterator[Held]:
    """A prefork worker with one slot busy on a slow call and three messages prefetched
    (taken off the queue, not started)."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        slow = {"id": "slow", "type": "http.request", "params": {"url": f"{base}/slow?seconds=3"}}
        quick = {"id": "quick", "type": "data.set", "params": {"fields": {"done": True}}}
        worker = start_worker(
            beat=False,
            pool="prefork",
            concurrency=1,
            LINKFLOW_LEASE_SECONDS=LEASE,
            LINKFLOW_WORKER_PREFETCH="4",
        )
        running = execute(api, create_workflow(api, chain(slow), name="slow"))
        wait_for(lambda: any("/slow" in hit for hit in server.hits), what="the slow call")
        quick_workflow = create_workflow(api, chain(quick), name="quick")
        prefetched = [execute(api, quick_workflow) for _ in range(3)]
        wait_for(lambda: broker.llen(queue) == 0, what="the worker to prefetch the messages")
        time.sleep(0.5)  # the last message reaches the worker, not a child
        assert [wait_status(i, ("queued",), timeout=1) for i in prefetched] == ["queued"] * 3
        assert not broker.exists("unacked"), "the broker kept a copy of unacked messages"
        yield Held(worker, running, prefetched, broker, queue)


def test_executions_prefetched_by_a_killed_worker_run_on_another(held, start_worker, settings):
    held.worker.send_signal(signal.SIGKILL)
    held.worker.wait(timeout=10)
    assert held.broker.llen(held.queue) == 0  # the prefetched messages died with it

    start_worker(beat=False)
    time.sleep(int(LEASE) + 0.5)  # the killed worker's lease runs out
    settings.LINKFLOW_QUEUED_GRACE_SECONDS = 0  # what the beat does once the grace passed
    assert executions_requeue_stale() == 4
    statuses = [wait_status(i, timeout=30) for i in [held.running, *held.prefetched]]
    assert statuses == ["succeeded"] * 4


def test_a_warm_shutdown_puts_prefetched_messages_back_at_once(held, start_worker):
    held.worker.send_signal(signal.SIGTERM)
    held.worker.wait(timeout=20)
    # The running one ended (its slow call was its last node); the prefetched ones are
    # back on the queue, never started.
    assert wait_status(held.running, timeout=1) == "succeeded"
    assert held.broker.llen(held.queue) == 3

    start_worker(beat=False)  # no recovery needed: nothing was lost
    statuses = [wait_status(i, timeout=30) for i in [held.running, *held.prefetched]]
    assert statuses == ["succeeded"] * 4
