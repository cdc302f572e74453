#!/usr/bin/env python3
"""Differential run: the same n8n workflows, the same webhook calls, in n8n 2.41 and in
LinkFlow (after import), answers compared item by item.

    ../shared/bench/n8n/install.sh            # once per machine (n8n 2.41 under ~/.cache)
    PYTHONPATH=$PWD python bench/n8n_diff/run.py [--public DIR] [--only NAME...]
    PYTHONPATH=$PWD python bench/n8n_diff/run.py --public DIR --public-only   # no n8n needed

It imports every corpus/*.json into a fresh n8n (its own SQLite folder under /tmp, a free
127.0.0.1 port, `n8n import:workflow` + `publish:workflow`) and into a fresh embedded
LinkFlow (SQLite, its own port, POST /api/v1/workflows/import), calls every case of
corpus.py's ``cases()`` on both, and compares the JSON answers (a failure on both sides
counts as agreement; the messages differ by design). The database, queue and S3 workflows
run against the local servers services.py prepares, with the same credentials on both
sides, and their answers are compared together with what each call left in the servers.
``--only`` runs some of the workflows (its figures stay in the log folder). ``--public
DIR`` also converts every n8n workflow JSON under DIR (e.g. n8n's own test fixtures) and
counts how many import and how many map fully. Prints a summary and writes
bench/n8n_diff/last_run.json. Every process it starts is stopped by its PID. Not part of
`make test`: it needs n8n.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import corpus  # noqa: E402
from services import Services  # noqa: E402

N8N_DIR = Path(os.environ.get("N8N_DIR", Path.home() / ".cache/linkflow-n8n-peer"))
N8N_BIN = N8N_DIR / "app/node_modules/.bin/n8n"
ADMIN = ("diff@example.com", "Diff-Passw0rd-!x")
PAGED_ITEMS = 7


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Echo(BaseHTTPRequestHandler):
    """What the HTTP Request workflows call: answers what it received, as JSON."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        path, _, query = self.path.partition("?")
        from urllib.parse import parse_qs

        body = {
            "path": path,
            "query": {k: v[0] for k, v in parse_qs(query).items()},
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": json.loads(raw) if raw else None,
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """/pages?page=N&size=S: page N of seven numbered items, with the next page's URL
        and whether it is the last, for the pagination workflow."""
        from urllib.parse import parse_qs

        path, _, query = self.path.partition("?")
        asked = {k: v[0] for k, v in parse_qs(query).items()}
        page, size = int(asked.get("page", 1)), max(1, int(asked.get("size", 3)))
        items = [{"n": n} for n in range(1, PAGED_ITEMS + 1)][(page - 1) * size : page * size]
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        body = {
            "page": page,
            "items": items,
            "last": page * size >= PAGED_ITEMS,
            "next": f"{host}{path}?page={page + 1}&size={size}",
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def n8n_env(folder: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{N8N_DIR}/nodebin/node_modules/.bin:{env['PATH']}",
        N8N_USER_FOLDER=str(folder),
        N8N_HOST="127.0.0.1",
        N8N_LISTEN_ADDRESS="127.0.0.1",
        N8N_PORT=str(port),
        N8N_PROTOCOL="http",
        N8N_WEBHOOK_URL=f"http://127.0.0.1:{port}/",
        DB_TYPE="sqlite",
        N8N_DIAGNOSTICS_ENABLED="false",
        N8N_PERSONALIZATION_ENABLED="false",
        N8N_VERSION_NOTIFICATIONS_ENABLED="false",
        N8N_TEMPLATES_ENABLED="false",
        N8N_COMMUNITY_PACKAGES_ENABLED="false",
        N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS="true",
        N8N_DISABLED_MODULES="mcp-registry",
        GENERIC_TIMEZONE="UTC",
        TZ="UTC",
        N8N_RUNNERS_ENABLED="false",
        # its task broker listens even with runners off: a port of its own, so another
        # n8n on the machine (5679 by default) does not stop this one
        N8N_RUNNERS_BROKER_PORT=str(free_port()),
        N8N_BLOCK_ENV_ACCESS_IN_NODE="true",
    )
    return env


def lf_env(var: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CI")}
    env.update(
        PORT=str(port),
        LINKFLOW_VAR_DIR=str(var),
        LINKFLOW_ADMIN_EMAIL=ADMIN[0],
        LINKFLOW_ADMIN_PASSWORD=ADMIN[1],
        LINKFLOW_RATE_DEFAULT="1000000/min",
        LINKFLOW_RATE_EXECUTE="1000000/min",
        LINKFLOW_RATE_AUTH="1000/min",
        LINKFLOW_HTTP_ALLOW_PRIVATE="true",
        LINKFLOW_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SECRET_KEY="n8n-diff-secret-key-not-for-production-0123456789",
        LINKFLOW_CREDENTIAL_KEYS="mUw0Ff7cT2d5vQ0n9o6bqkqXnJ3m2m0i3u8uQ2lYw1c=",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        TZ="UTC",
    )
    return env


def start(cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def call(url: str, body: Any, token: str | None = None, method: str = "POST") -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None and method in ("GET",) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text


def wait_port(port: int, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.3)
    raise SystemExit(f"nothing listens on {port} after {seconds}s")


def documents(http_port: int) -> dict[str, dict[str, Any]]:
    return {
        name: json.loads(json.dumps(build()).replace("__HTTP_PORT__", str(http_port)))
        for name, build in corpus.WORKFLOWS.items()
    }


def n8n_side(
    docs: dict[str, dict[str, Any]], work: Path, services: Services
) -> tuple[subprocess.Popen[bytes], int]:
    folder, port = work / "n8n", free_port()
    folder.mkdir()
    env = n8n_env(folder, port)
    credentials = work / "n8n-credentials.json"
    credentials.write_text(json.dumps(services.n8n_credentials()))
    subprocess.run(
        [str(N8N_BIN), "import:credentials", f"--input={credentials}"],
        env=env,
        check=True,
        capture_output=True,
        cwd=work,
    )
    source = work / "n8n-import"
    source.mkdir()
    for name, doc in docs.items():
        (source / f"{name}.json").write_text(json.dumps(doc))
    subprocess.run(
        [str(N8N_BIN), "import:workflow", "--separate", f"--input={source}"],
        env=env,
        check=True,
        capture_output=True,
        cwd=work,
    )
    for doc in docs.values():
        subprocess.run(
            [str(N8N_BIN), "publish:workflow", f"--id={doc['id']}"],
            env=env,
            check=True,
            capture_output=True,
            cwd=work,
        )
    proc = start([str(N8N_BIN), "start"], env, work / "n8n.log", work)
    wait_port(port, 180)
    return proc, port


def lf_side(
    docs: dict[str, dict[str, Any]],
    work: Path,
    services: Services,
    started: list[subprocess.Popen[bytes]],
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Start LinkFlow (added to ``started`` at once, so a failed import still stops it),
    create the credentials, import and activate every workflow."""
    port = free_port()
    env = lf_env(work / "lf-var", port)
    proc = start([sys.executable, "manage.py", "serve"], env, work / "linkflow.log", ROOT)
    started.append(proc)
    wait_port(port, 180)
    base = f"http://127.0.0.1:{port}"
    status, tokens = call(f"{base}/api/v1/auth/token/", {"email": ADMIN[0], "password": ADMIN[1]})
    assert status == 200, tokens
    token = tokens["access"]
    credential_ids = {}
    for n8n_id, (kind, data) in services.linkflow_credentials().items():
        status, body = call(
            f"{base}/api/v1/credentials/", {"name": n8n_id, "type": kind, "data": data}, token
        )
        assert status == 201, (n8n_id, body)
        credential_ids[n8n_id] = body["id"]
    urls, reports = {}, {}
    for name, doc in docs.items():
        status, body = call(
            f"{base}/api/v1/workflows/import", {"format": "n8n", "document": doc}, token
        )
        assert status == 201, (name, body)
        reports[name] = body["report"]
        workflow_id = body["workflow"]["id"]
        change: dict[str, Any] = {"active": True}
        graph = credentials_picked(doc, body, credential_ids)
        if graph is not None:
            change["graph"] = graph
        status, body = call(f"{base}/api/v1/workflows/{workflow_id}/", change, token, "PATCH")
        assert status == 200, (name, body)
        hooks = body["webhooks"]
        url = hooks[0].get("path_url") or hooks[0]["url"]
        urls[name] = url if url.startswith("http") else base + url
    return port, urls, reports


def credentials_picked(
    doc: dict[str, Any], imported: dict[str, Any], credential_ids: dict[str, str]
) -> dict[str, Any] | None:
    """The imported graph with the credential each node needs picked, as a user does after
    an import (credentials are never imported); None when no node needs one."""
    wanted = {
        n["name"]: next(iter(n["credentials"].values()))["id"]
        for n in doc["nodes"]
        if n.get("credentials")
    }
    if not wanted:
        return None
    graph = imported["workflow"]["graph"]
    # an n8n node may become several LinkFlow nodes: the credential goes to the one that
    # talks to the server
    ids = {
        node_id: wanted[e["name"]]
        for e in imported["report"]["nodes"]
        if e["name"] in wanted
        for node_id in e["linkflow_nodes"]
    }
    for graph_node in graph["nodes"]:
        if graph_node["id"] in ids and graph_node["type"] in SERVER_NODES:
            graph_node["credential"] = credential_ids[ids[graph_node["id"]]]
    return graph


SERVER_NODES = {
    "db.postgres",
    "db.mysql",
    "redis.command",
    "amqp.publish",
    "mqtt.publish",
    "s3.object",
}


def normalised(status: int, body: Any) -> Any:
    """What is compared: the JSON answer of a success, or just "failed"."""
    if status >= 400:
        return "<failed>"
    return body


def compare(
    docs: dict[str, dict[str, Any]], n8n_port: int, lf_urls: dict[str, str], services: Services
) -> dict[str, Any]:
    from urllib.parse import urlencode

    results: dict[str, Any] = {}
    for name, cases in corpus.cases().items():
        if name not in docs:
            continue
        path = next(n for n in docs[name]["nodes"] if n["type"].endswith(".webhook"))["parameters"][
            "path"
        ]
        outcome = results.setdefault(name, {"cases": 0, "agree": 0, "differences": []})
        for label, query, body in cases:
            suffix = f"?{urlencode(query)}" if query else ""
            n8n_url = f"http://127.0.0.1:{n8n_port}/webhook/{path}{suffix}"
            n8n = observed(name, services, n8n_url, body)
            lf = observed(name, services, f"{lf_urls[name]}{suffix}", body)
            outcome["cases"] += 1
            if n8n == lf:
                outcome["agree"] += 1
            else:
                outcome["differences"].append({"case": label, "n8n": n8n, "linkflow": lf})
    return results


def observed(name: str, services: Services, url: str, body: Any) -> Any:
    """The call's answer, with what it left in the servers when it leaves anything."""
    services.before_call(name)
    answer = normalised(*call(url, body or {}))
    effect = services.observe(name)
    return answer if effect is None else {"answer": answer, "effect": effect}


# The core nodes the importer is asked to map (#17), by n8n type without its prefix: a
# public workflow made only of these (and sticky notes) is in the "core" subset.
CORE = {
    "manualTrigger", "webhook", "scheduleTrigger", "httpRequest", "set", "if", "filter",
    "switch", "merge", "splitOut", "aggregate", "wait", "code", "executeWorkflow",
    "executeWorkflowTrigger", "respondToWebhook", "noOp", "stopAndError", "sort", "limit",
    "removeDuplicates", "renameKeys", "summarize", "dateTime", "crypto", "html", "xml",
    "splitInBatches", "errorTrigger", "postgres", "mySql", "redis", "rabbitmq", "mqtt",
    "awsS3", "emailSend", "stickyNote",
}  # fmt: skip


def _tally() -> dict[str, Any]:
    return {
        "workflows": 0,
        "imported": 0,
        "every_node_mapped": 0,
        "fully_mapped": 0,
        "nodes": 0,
        "nodes_mapped": 0,
        "not_mapped_types": {},
    }


def public_corpus(directory: Path) -> dict[str, Any]:
    """Convert every n8n workflow JSON under ``directory``: how many import, how many have
    every node mapped, how many map fully (every node mapped, no expression kept); the
    same for the "core" subset (workflows made only of the core nodes in CORE)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkflow.settings")
    import django

    django.setup()
    from workflows.importers.n8n import DocumentError, convert, looks_like_n8n

    counts: dict[str, Any] = {"files": 0, **_tally(), "core": _tally()}
    for path in sorted(directory.rglob("*.json")):
        counts["files"] += 1
        try:
            document = json.loads(path.read_text())
        except ValueError:
            continue
        if not looks_like_n8n(document):
            continue
        nodes = document.get("nodes", [])
        types = {str(n.get("type", "")).rsplit(".", 1)[-1] for n in nodes}
        # Some collections disguise other nodes as noOp with versions n8n's No Operation
        # never had (it has only 1): those are not core nodes.
        disguised = any(
            str(n.get("type", "")).endswith(".noOp") and n.get("typeVersion", 1) != 1 for n in nodes
        )
        tallies = [counts, counts["core"]] if types <= CORE and not disguised else [counts]
        for tally in tallies:
            tally["workflows"] += 1
        try:
            report = convert(document).report
        except DocumentError:
            continue
        summary = report["summary"]
        for tally in tallies:
            tally["imported"] += 1
            tally["nodes"] += summary["nodes"]
            tally["nodes_mapped"] += summary["mapped"] + summary["mapped_with_warnings"]
            if summary["not_mapped"] == 0:
                tally["every_node_mapped"] += 1
                if summary["kept"] == 0:
                    tally["fully_mapped"] += 1
            for node in report["nodes"]:
                if node["status"] == "not_mapped":
                    key = f"{node['n8n_type']} v{node['type_version']}"
                    tally["not_mapped_types"][key] = tally["not_mapped_types"].get(key, 0) + 1
    for tally in (counts, counts["core"]):
        ranked = sorted(tally["not_mapped_types"].items(), key=lambda kv: -kv[1])
        tally["not_mapped_types"] = dict(ranked[:25])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--public", type=Path, help="a folder of public n8n workflow JSON files")
    parser.add_argument(
        "--public-only", action="store_true", help="only convert --public (no n8n needed)"
    )
    parser.add_argument(
        "--only", nargs="+", help="only these corpus workflows (names of corpus/*.json)"
    )
    args = parser.parse_args()
    if args.public_only:
        print(json.dumps(public_corpus(args.public), indent=2))
        return
    if not N8N_BIN.exists():
        raise SystemExit(f"n8n is not installed at {N8N_BIN}: run ../shared/bench/n8n/install.sh")
    work = Path(tempfile.mkdtemp(prefix="linkflow-n8n-diff-"))
    echo = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    docs = documents(echo.server_address[1])
    if args.only:
        docs = {name: doc for name, doc in docs.items() if name in args.only}
    processes = []
    services = Services()
    try:
        services.start()
        n8n, n8n_port = n8n_side(docs, work, services)
        processes.append(n8n)
        _lf_port, lf_urls, reports = lf_side(docs, work, services, processes)
        time.sleep(2)  # both answer their first webhook only once the workflows are loaded
        results = compare(docs, n8n_port, lf_urls, services)
    finally:
        for proc in processes:
            stop(proc)
        services.stop()
        echo.shutdown()
    summary = {
        "workflows": len(docs),
        "nodes": sum(len([n for n in d["nodes"]]) for d in docs.values()),
        "expression_forms": len(corpus.EXPRESSIONS),
        "adversarial_inputs": len(corpus.INPUTS),
        "cases": sum(r["cases"] for r in results.values()),
        "agree": sum(r["agree"] for r in results.values()),
        "per_workflow": {name: f"{r['agree']}/{r['cases']}" for name, r in results.items()},
        "mapping": {name: report["summary"] for name, report in reports.items()},
    }
    if args.public:
        summary["public"] = public_corpus(args.public)
    # ASCII escapes: JavaScript strings can hold lone UTF-16 halves (an emoji split(""))
    # a partial run (--only) is kept beside its logs, not as the corpus's figure
    (work / "run.json" if args.only else HERE / "last_run.json").write_text(
        json.dumps({"summary": summary, "results": results}, indent=2)
    )
    print(json.dumps(summary, indent=2))
    for name, result in results.items():
        for difference in result["differences"]:
            print(
                f"DIFF {name} {difference['case']}: "
                f"n8n={json.dumps(difference['n8n'])[:200]}"
                f" linkflow={json.dumps(difference['linkflow'])[:200]}"
            )
    print(f"logs: {work}")


if __name__ == "__main__":
    main()
