"""The side-by-side benchmark with an outside call: `../shared/bench/sidebyside.py`'s
machinery (imported, not copied) on its 5-node sync webhook with one `http.request` to a
local stub server after the first Set node, in both systems:

    LinkFlow: webhook -> set -> http.request POST /echo -> if -> set/set
    n8n:      Webhook -> Set -> HTTP Request POST /echo -> IF -> Set/Set
              (bench/n8n_http/bench-http-workflow.json, imported and published here)

The stub (127.0.0.1:8794, a threaded server in this process, outside both systems' CPU
figures) echoes the posted JSON; the IF and the last Set read the echo, so a reply with a
tier proves the call happened. The checkpoint LinkFlow writes around a node with outside
effects is in the figures: this is what the issue asks to compare.

    python3 bench/sidebyside_http.py --lf . --only lf-roles --duration 10
    python3 bench/sidebyside_http.py --lf . [--conc 10,32] [--duration 20]

Same flags as sidebyside.py (--only takes n8n-legacy, n8n-stock, lf-roles, lf-embedded);
run it under `flock /tmp/sbs.lock` like sidebyside.py (same ports, same database). Prints
the same table.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# ../shared/bench from the checkout (a worktree one level deeper finds it one level up).
SHARED = next(
    (
        p
        for p in (HERE.parent.parent / "shared/bench", HERE.parent.parent.parent / "shared/bench")
        if (p / "sidebyside.py").exists()
    ),
    HERE.parent.parent / "shared/bench",
)
N8N_WORKFLOW = HERE / "n8n_http" / "bench-http-workflow.json"
N8N_WORKFLOW_ID = "BenchHttpCall0001"
STUB_PORT = 8794  # named in the n8n workflow's URL too


def load_sidebyside(directory: Path) -> Any:
    spec = importlib.util.spec_from_file_location("sidebyside", directory / "sidebyside.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no sidebyside.py in {directory}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def http_graph(base: dict[str, Any]) -> dict[str, Any]:
    """sidebyside's graph with the call after `compute`; downstream reads the echo."""
    graph = json.loads(json.dumps(base))
    call = {
        "id": "call",
        "type": "http.request",
        "params": {
            "method": "POST",
            "url": f"http://127.0.0.1:{STUB_PORT}/echo",
            "body": {
                "name": "{{ json.body.name }}",
                "amount": "{{ json.body.amount }}",
                "total": "{{ json.total }}",
                "greeting": "{{ json.greeting }}",
            },
        },
    }
    graph["nodes"].insert(2, call)
    nodes = {node["id"]: node for node in graph["nodes"]}
    nodes["isbig"]["params"]["condition"] = "{{ json.body.amount > 100 }}"
    for tier in ("high", "low"):
        fields = nodes[tier]["params"]["fields"]
        fields["name"] = "{{ json.body.name }}"
        fields["total"] = "{{ json.body.total }}"
        fields["greeting"] = "{{ json.body.greeting }}"
    nodes["high"]["params"]["fields"]["discount"] = "{{ (json.body.total * 0.1) | round(2) }}"
    graph["edges"] = [
        {"source": "hook", "target": "compute"},
        {"source": "compute", "target": "call"},
        {"source": "call", "target": "isbig"},
        {"source": "isbig", "target": "high", "output": "true"},
        {"source": "isbig", "target": "low", "output": "false"},
    ]
    return graph


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The reply goes out as two writes (headers, then body). With Nagle's algorithm on, the
    # body waits for the client's delayed ACK of the headers: 40 ms per call on loopback,
    # which no real service adds and which made every call cost 44 ms instead of 1.3 ms.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_stub() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", STUB_PORT), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def n8n_cli(sbs: Any, *args: str) -> None:
    script = f". {sbs.HERE}/n8n/env.sh; $N8N_BIN " + " ".join(args)
    subprocess.run(["bash", "-c", script], check=True, capture_output=True)


def n8n_side(sbs: Any, engine: str, conc: list[int], duration: int, results: list) -> None:
    """sidebyside.n8n_side on the http workflow's webhook (its URL is fixed there)."""
    env = dict(os.environ)
    script = (
        f". {sbs.HERE}/n8n/env.sh; "
        + (f"export N8N_EXPRESSION_ENGINE={engine}; " if engine else "")
        + "exec $N8N_BIN start"
    )
    group = sbs.Group()
    t0 = time.time()
    group.start(
        ["bash", "-c", script], sbs.HERE, env, os.path.join(sbs.TMP, f"n8n-http-{engine}.log")
    )
    url = "http://127.0.0.1:5678/webhook/bench-http"
    try:
        sbs.wait_url(url, {"name": "cold", "amount": 150, "qty": 2}, 180, '"tier":"high"')
        print(f"n8n {engine or 'stock(vm)'} cold start {time.time() - t0:.1f}s", flush=True)
        label = f"n8n 2.41 {engine or 'stock vm'} (SQLite) + http"
        sbs.measure(label, url, group, conc, duration, False, results)
    finally:
        group.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lf", default=".")
    parser.add_argument("--sidebyside", type=Path, default=SHARED)
    parser.add_argument("--conc", default="10,32")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--only", default="n8n-legacy,n8n-stock,lf-roles,lf-embedded")
    parser.add_argument("--web", type=int)
    parser.add_argument("--worker", type=int)
    args = parser.parse_args()
    sbs = load_sidebyside(args.sidebyside)
    sbs.GRAPH = http_graph(sbs.GRAPH)  # lf_workflow() creates whatever GRAPH says
    # The stub is on loopback, which nodes refuse by default: open that one host:port.
    os.environ["LINKFLOW_HTTP_ALLOW_HOSTS"] = f"127.0.0.1:{STUB_PORT}"
    conc = [int(c) for c in args.conc.split(",")]
    parts = args.only.split(",")
    stub = start_stub()
    results: list[dict[str, Any]] = []
    try:
        if any(p.startswith("n8n") for p in parts):
            n8n_cli(sbs, "import:workflow", f"--input={N8N_WORKFLOW}")
            n8n_cli(sbs, "publish:workflow", f"--id={N8N_WORKFLOW_ID}")
        for part in parts:
            if part == "n8n-legacy":
                n8n_side(sbs, "legacy", conc, args.duration, results)
            elif part == "n8n-stock":
                n8n_side(sbs, "", conc, args.duration, results)
            elif part == "lf-roles":
                lf = os.path.abspath(args.lf)
                sbs.lf_distributed(lf, conc, args.duration, results, args.web, args.worker)
                results[-len(conc) :] = [
                    {**r, "label": r["label"] + " + http"} for r in results[-len(conc) :]
                ]
            elif part == "lf-embedded":
                sbs.lf_embedded(os.path.abspath(args.lf), conc, args.duration, results)
                results[-len(conc) :] = [
                    {**r, "label": r["label"] + " + http"} for r in results[-len(conc) :]
                ]
    finally:
        stub.shutdown()
    print(
        "\n| system | c | req/s | p50 ms | p99 ms | bad | CPU ms/req (incl. PG for LinkFlow"
        " roles) | RSS MB loaded / idle |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['label']} | {r['conc']} | {r['rps']} | {r['p50']:.1f} | {r['p99']:.1f} |"
            f" {r['bad']} | {r['cpu_ms']} | {r['rss']} / {r['idle_rss']} |"
        )


if __name__ == "__main__":
    sys.exit(main())
