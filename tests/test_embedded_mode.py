"""`make run`'s embedded mode: one process, SQLite, in-process worker, no services."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import free_port, stop_process
from .graphs import branching_graph
from .http_server import orders_server

ROOT = Path(__file__).resolve().parent.parent
ADMIN = {"email": "ops@example.com", "password": "embedded-test-password"}


@pytest.fixture(scope="module")
def embedded_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded")


# One server for the module: its start (a fresh SQLite migrated) is most of each test's
# time. The tests share it as users would, each with workflows of its own.
@pytest.fixture(scope="module")
def embedded_server(embedded_var: Path) -> Iterator[str]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        LINKFLOW_VAR_DIR=str(embedded_var),
        PORT=str(port),
        LINKFLOW_HTTP_ALLOW_PRIVATE="true",
        LINKFLOW_ADMIN_EMAIL=ADMIN["email"],
        LINKFLOW_ADMIN_PASSWORD=ADMIN["password"],
    )
    log = open(embedded_var / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "embedded server did not start:\n" + (embedded_var / "serve.log").read_text()
                )
            time.sleep(0.2)
        yield base
    finally:
        stop_process(proc, log)


def test_embedded_mode_runs_a_workflow_with_no_services(embedded_server, embedded_var):
    api = httpx.Client(base_url=embedded_server, timeout=10)
    tokens = api.post("/api/v1/auth/token/", json=ADMIN).json()
    api.headers["Authorization"] = f"Bearer {tokens['access']}"

    with orders_server() as server:
        url = f"http://127.0.0.1:{server.server_port}/orders"
        workflow = api.post("/api/v1/workflows/", json={"name": "o", "graph": branching_graph(url)})
        assert workflow.status_code == 201, workflow.text
        queued = api.post(
            f"/api/v1/workflows/{workflow.json()['id']}/execute", json={"input": {"user_id": 1}}
        )
        assert queued.status_code == 202
        location = queued.headers["Location"]
        deadline = time.monotonic() + 30
        while (body := api.get(location).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the in-process worker never finished"
            time.sleep(0.1)

    assert body["status"] == "succeeded", body["error"]
    statuses = {r["node_id"]: r["status"] for r in body["node_runs"]}
    assert statuses == {
        "start": "succeeded",
        "fetch": "succeeded",
        "big": "succeeded",
        "gold": "succeeded",
        "standard": "skipped",
    }
    assert (embedded_var / "linkflow.sqlite3").exists()


def test_embedded_mode_resumes_a_wait_by_its_url(embedded_server):
    """flow.wait's call mode in one process: parked in SQLite, woken by the call, finished
    by the in-process worker."""
    from urllib.parse import urlsplit

    api = httpx.Client(base_url=embedded_server, timeout=10)
    tokens = api.post("/api/v1/auth/token/", json=ADMIN).json()
    api.headers["Authorization"] = f"Bearer {tokens['access']}"
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "notify",
                "type": "data.set",
                "params": {"fields": {"url": "{{ execution.resume_url }}"}},
            },
            {"id": "hold", "type": "flow.wait", "params": {"mode": "call"}},
        ],
        "edges": [{"source": "start", "target": "notify"}, {"source": "notify", "target": "hold"}],
    }
    workflow = api.post("/api/v1/workflows/", json={"name": "w", "graph": graph})
    assert workflow.status_code == 201, workflow.text
    location = api.post(f"/api/v1/workflows/{workflow.json()['id']}/execute", json={}).headers[
        "Location"
    ]

    def settled(*statuses: str) -> dict:
        deadline = time.monotonic() + 30
        while (body := api.get(location).json())["status"] not in statuses:
            assert time.monotonic() < deadline, f"never reached {statuses}: {body['status']}"
            time.sleep(0.1)
        return body

    parked = settled("waiting", "failed")
    assert parked["status"] == "waiting", parked["error"]
    runs = {r["node_id"]: r for r in parked["node_runs"]}
    resume = urlsplit(runs["notify"]["output"]["main"][0]["url"]).path
    called = httpx.post(embedded_server + resume, json={"ok": True}, timeout=10)
    assert called.status_code == 202, called.text
    done = settled("succeeded", "failed")
    assert done["status"] == "succeeded", done["error"]
    hold = [r for r in done["node_runs"] if r["node_id"] == "hold"][-1]
    assert hold["output"] == {"main": [{"ok": True}]}


def test_embedded_mode_runs_listening_triggers_in_process(embedded_server):
    """A trigger.amqp of an activated workflow listens inside `manage.py serve` (no beat
    role): a message published to its queue becomes an execution of mode "event"."""
    import json

    import amqp

    from .conftest import require_server

    port = require_server("rabbitmq")
    queue = f"linkflow-embedded-{os.getpid()}"
    api = httpx.Client(base_url=embedded_server, timeout=10)
    tokens = api.post("/api/v1/auth/token/", json=ADMIN).json()
    api.headers["Authorization"] = f"Bearer {tokens['access']}"
    workspaces = api.get("/api/v1/workspaces/").json()
    workspace = (workspaces["results"] if isinstance(workspaces, dict) else workspaces)[0]["id"]
    credential = api.post(
        "/api/v1/credentials/",
        json={
            "workspace": workspace,
            "name": "rabbit",
            "type": "amqp",
            "data": {"host": "127.0.0.1", "port": port, "username": "guest", "password": "guest"},
        },
    )
    assert credential.status_code == 201, credential.text
    graph = {
        "nodes": [
            {
                "id": "orders",
                "type": "trigger.amqp",
                "credential": credential.json()["id"],
                "params": {"queue": queue},
            },
            {"id": "done", "type": "flow.noop"},
        ],
        "edges": [{"source": "orders", "target": "done"}],
    }
    created = api.post("/api/v1/workflows/", json={"name": "listen", "graph": graph})
    assert created.status_code == 201, created.text
    workflow = created.json()["id"]
    assert api.patch(f"/api/v1/workflows/{workflow}", json={"active": True}).status_code == 200

    with amqp.Connection(host=f"127.0.0.1:{port}") as connection:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, auto_delete=False)
        try:
            channel.basic_publish(
                amqp.Message(json.dumps({"order": 42}), message_id="o42"), routing_key=queue
            )
            deadline = time.monotonic() + 60
            while not (
                runs := api.get(f"/api/v1/executions/?workflow={workflow}").json()["results"]
            ):
                assert time.monotonic() < deadline, "the in-process listener never started a run"
                time.sleep(0.2)
        finally:
            channel.queue_delete(queue)

    assert len(runs) == 1
    assert runs[0]["mode"] == "event"


def test_embedded_mode_runs_a_loop_over_paginated_results(embedded_server):
    """flow.batch and http.request pagination on SQLite with the in-process worker: each
    page and each batch is a NodeRun with its iteration."""
    from .http_server import pages_server

    api = httpx.Client(base_url=embedded_server, timeout=10)
    tokens = api.post("/api/v1/auth/token/", json=ADMIN).json()
    api.headers["Authorization"] = f"Bearer {tokens['access']}"
    with pages_server(total=5) as server:
        url = f"http://127.0.0.1:{server.server_port}/link"
        graph = {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "pages",
                    "type": "http.request",
                    "params": {"url": url, "pagination": {"mode": "link_header"}},
                },
                {"id": "batch", "type": "flow.batch", "params": {"batch_size": 2}},
                {"id": "mark", "type": "data.set", "params": {"fields": {"seen": True}}},
            ],
            "edges": [
                {"source": "start", "target": "pages"},
                {"source": "pages", "target": "batch"},
                {"source": "batch", "target": "mark", "output": "loop"},
                {"source": "mark", "target": "batch"},
            ],
        }
        workflow = api.post("/api/v1/workflows/", json={"name": "l", "graph": graph})
        assert workflow.status_code == 201, workflow.text
        location = api.post(f"/api/v1/workflows/{workflow.json()['id']}/execute", json={}).headers[
            "Location"
        ]
        deadline = time.monotonic() + 30
        while (body := api.get(location).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the in-process worker never finished"
            time.sleep(0.1)

    assert body["status"] == "succeeded", body["error"]
    runs = [(r["node_id"], r["iteration"], r["status"]) for r in body["node_runs"]]
    assert [r for r in runs if r[0] == "pages"] == [
        ("pages", 1, "succeeded"),
        ("pages", 2, "succeeded"),
        ("pages", 3, "succeeded"),
        ("pages", 0, "succeeded"),
    ]
    assert [r for r in runs if r[0] == "mark"] == [
        ("mark", 1, "succeeded"),
        ("mark", 2, "succeeded"),
    ]
    [batch] = [r for r in body["node_runs"] if r["node_id"] == "batch"]
    assert [item["seen"] for item in batch["output"]["done"]] == [True, True, True]


def test_embedded_mode_writes_no_line_per_request_below_debug(embedded_server, embedded_var):
    """Like the Procfile's web role: a per-request access line only at LOG_LEVEL=DEBUG
    (under load, writing it was a tenth of the process's CPU)."""
    assert os.environ.get("LOG_LEVEL", "INFO").upper() != "DEBUG"
    for _ in range(3):
        assert httpx.get(f"{embedded_server}/healthz", timeout=5).status_code == 200

    log = (embedded_var / "serve.log").read_text()
    assert "LinkFlow at http://" in log  # the log is the server's, and it is written
    assert '"GET /healthz' not in log
