"""A rolling restart of every role under load loses nothing and leaves nothing stuck.

Two web processes, two prefork workers and a beat run as the Procfile runs them, on the
test database and Redis. A client keeps submitting executions (each two outside calls to a
slow local stub), trying the other web process when one is down, as a load balancer
would. Meanwhile each role is restarted in turn, SIGTERM first and SIGKILL after a short
grace, as a process manager does. Every execution a web process accepted (202) must end
succeeded, every outside call must have been made exactly once, and no execution may be
left running or holding a lease.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from executions.models import Execution, NodeRun

from ..conftest import ROOT, database_url, free_port, require_services, spawn_worker, wait_for
from ..e2e.conftest import serving_web
from ..executing import FINISHED, chain, create_workflow
from ..http_server import orders_server

CALLS_EACH = 2


def _stop_like_a_process_manager(proc: subprocess.Popen[bytes], *, grace: float) -> bool:
    """SIGTERM, then SIGKILL after ``grace`` seconds; True when it had to kill."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True
    return False


def _spawn_beat(name: str) -> tuple[subprocess.Popen[bytes], Any]:
    """The beat role as the Procfile runs it (leader-elected scheduler), on the test queue."""
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "linkflow.settings",
        "DATABASE_URL": database_url(),
        "LINKFLOW_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "LINKFLOW_DB_POOL": "false",
        "LINKFLOW_BEAT_LOCK_KEY": f"linkflow:beat:leader:{settings.CELERY_TASK_DEFAULT_QUEUE}",
    }
    environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log = open(ROOT / "var" / f"{name}.log", "wb")  # noqa: SIM115
    command = [sys.executable, "-m", "celery", "-A", "linkflow", "beat", "--loglevel", "INFO"]
    command += ["--scheduler", "linkflow.scheduler:LeaderScheduler"]
    proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


class _Client:
    """Submits executions round-robin over the web processes, retrying on the next one
    when a process is down (connection refused or reset mid-restart)."""

    def __init__(self, bases: list[str], token: str, workflow_id: str) -> None:
        self.bases = bases
        self.headers = {"Authorization": f"Bearer {token}"}
        self.path = f"/api/v1/workflows/{workflow_id}/execute"
        self.accepted: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        turn = 0
        while not self._stop.is_set():
            turn += 1
            self._submit_once(turn)
            time.sleep(0.2)

    def _submit_once(self, turn: int) -> None:
        for attempt in range(len(self.bases) * 20):
            base = self.bases[(turn + attempt) % len(self.bases)]
            try:
                answer = httpx.post(base + self.path, json={"input": {}}, headers=self.headers)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if answer.status_code == 202:
                self.accepted.append(answer.json()["id"])
            else:
                self.errors.append(f"{answer.status_code} {answer.text[:200]}")
            return
        self.errors.append("no web process answered")


@pytest.fixture
def roles(transactional_db: None) -> Iterator[dict[str, Any]]:
    require_services()
    with ExitStack() as stack:
        procs: dict[str, Any] = {}

        def stop_all() -> None:
            for proc, log in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                if log is not None:
                    log.close()

        stack.callback(stop_all)
        yield {"stack": stack, "procs": procs}


def _worker(procs: dict[str, Any], key: str) -> None:
    procs[key] = spawn_worker(
        name=f"roll-{os.getpid()}-{key}-{time.monotonic_ns()}",
        concurrency=2,
        beat=False,
        pool="prefork",
    )


def test_a_rolling_restart_of_every_role_under_load_loses_nothing(roles, owner):
    stack, procs = roles["stack"], roles["procs"]
    server = stack.enter_context(orders_server())
    stub = f"http://127.0.0.1:{server.server_port}"
    graph = chain(
        *(
            {
                "id": f"call{i}",
                "type": "http.request",
                "params": {"url": f"{stub}/slow?seconds=0.5&n={i}"},
            }
            for i in range(CALLS_EACH)
        )
    )
    token = str(RefreshToken.for_user(owner).access_token)
    ports = [free_port(), free_port()]
    webs = [
        stack.enter_context(_restartable_web(name=f"roll-web{i}", port=port))
        for i, port in enumerate(ports)
    ]
    api = APIClient()
    api.force_authenticate(owner)
    workflow_id = create_workflow(api, graph)
    _worker(procs, "w1")
    _worker(procs, "w2")
    procs["beat"] = _spawn_beat(f"roll-{os.getpid()}-beat")

    client = _Client([f"http://127.0.0.1:{port}" for port in ports], token, workflow_id)
    client.start()
    wait_for(lambda: len(client.accepted) >= 5, timeout=60, what="load to be running")
    for web in webs:  # one web process at a time: the other keeps serving
        web.restart()
        _wait_for_more(client, 3)
    killed_workers = 0
    for key in ("w1", "w2"):
        proc, log = procs[key]
        killed_workers += _stop_like_a_process_manager(proc, grace=5)
        log.close()
        _worker(procs, key)
        _wait_for_more(client, 3)
    proc, log = procs["beat"]
    _stop_like_a_process_manager(proc, grace=5)
    log.close()
    procs["beat"] = _spawn_beat(f"roll-{os.getpid()}-beat2")
    _wait_for_more(client, 3)
    client.stop()

    accepted = list(client.accepted)
    assert client.errors == []
    assert len(accepted) >= 10
    wait_for(
        lambda: (
            Execution.objects.filter(pk__in=accepted, status__in=FINISHED).count() == len(accepted)
        ),
        timeout=180,
        what="every accepted execution to finish",
    )
    statuses = Counter(Execution.objects.filter(pk__in=accepted).values_list("status", flat=True))
    assert statuses == {"succeeded": len(accepted)}
    # Each outside call made exactly once per execution, whatever was restarted under it.
    per_call = Counter(
        NodeRun.objects.filter(execution_id__in=accepted, status="succeeded")
        .exclude(node_id="start")
        .values_list("execution_id", "node_id")
    )
    assert len(per_call) == len(accepted) * CALLS_EACH
    assert set(per_call.values()) == {1}
    # The recorded state is exactly once (above). An outside call is repeated only where a
    # worker was SIGKILLed with the call in flight, its result not yet recorded: at most one
    # per child (concurrency 2) of each killed worker; none after a clean stop.
    repeats = len(server.hits) - len(accepted) * CALLS_EACH
    assert 0 <= repeats <= 2 * killed_workers
    assert not Execution.objects.filter(status="running").exists()
    assert not Execution.objects.exclude(lease_owner="").exists()


def _wait_for_more(client: _Client, more: int) -> None:
    target = len(client.accepted) + more
    wait_for(lambda: len(client.accepted) >= target, timeout=60, what=f"{more} more accepted")


class _RestartableWeb:
    def __init__(self, *, name: str, port: int) -> None:
        self.name, self.port = name, port
        self._stack = ExitStack()

    def __enter__(self) -> "_RestartableWeb":
        self._stack.enter_context(serving_web(name=self.name, port=self.port))
        return self

    def restart(self) -> None:
        # serving_web stops its uvicorn with SIGTERM (graceful: in-flight requests finish).
        self._stack.close()
        self._stack = ExitStack()
        self._stack.enter_context(serving_web(name=self.name, port=self.port))

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _restartable_web(*, name: str, port: int) -> _RestartableWeb:
    return _RestartableWeb(name=name, port=port)
