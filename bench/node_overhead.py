"""Per-node engine overhead, worker side: a 50-node chain of flow.noop.

Measures, in one process with no queue in between:
- the engine alone (run_graph with a null observer), and
- the worker's whole path per execution (claim, run, record every NodeRun, finish)
  through `executions.services.execution_run` against the configured database,
and prints milliseconds per node. Not part of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linkflow \\
        .venv/bin/python bench/node_overhead.py --executions 200

Needs DATABASE_URL (a database `<name>_bench` is dropped and created).
"""

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.roles import (  # noqa: E402
    BENCH_CREDENTIAL_KEY,
    BENCH_SECRET_KEY,
    bench_database,
)

NODES = 50


def chain_graph() -> dict:
    nodes = [{"id": "start", "type": "trigger.manual"}]
    nodes += [{"id": f"n{i}", "type": "flow.noop"} for i in range(1, NODES)]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"nodes": nodes, "edges": edges}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=200)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL)")
    os.environ["DATABASE_URL"] = bench_database(os.environ["DATABASE_URL"])
    os.environ.pop("REDIS_URL", None)  # no broker needed: the runs are called directly
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkflow.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ.setdefault("LINKFLOW_CREDENTIAL_KEYS", BENCH_CREDENTIAL_KEY)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    engine_ms = engine_only(args.executions)
    worker_ms = worker_path(args.executions)
    print(f"{NODES}-node flow.noop chain, {args.executions} executions each")
    print(
        f"engine only (run_graph, null observer): {engine_ms / NODES:.3f} ms/node "
        f"({engine_ms:.2f} ms/execution)"
    )
    print(
        f"worker path (claim, run, record {NODES} NodeRuns, finish): "
        f"{worker_ms / NODES:.3f} ms/node ({worker_ms:.2f} ms/execution)"
    )


def engine_only(count: int) -> float:
    from linkflow.engine import Graph, NullObserver, RunContext, run_graph

    graph = Graph.from_dict(chain_graph())
    timings = []
    for i in range(count + 10):
        started = time.perf_counter()
        run_graph(
            graph,
            context=RunContext(execution={"id": str(i)}, trigger_input={"i": i}),
            observer=NullObserver(),
        )
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[10:])


def worker_path(count: int) -> float:
    from executions.models import Execution
    from executions.services import execution_run
    from linkflow.accounts.services import user_create
    from workflows.services import workflow_create

    user = user_create(email=f"bench{time.time_ns()}@linkflow.local", password=None)
    workflow = workflow_create(
        user=user, workspace=user.personal_workspace, name="chain", graph=chain_graph()
    )
    from django.utils import timezone

    ids = [
        Execution.objects.create(
            workspace_id=workflow.workspace_id,
            workflow=workflow,
            version_id=workflow.current_version_id,
            mode="manual",
            trigger_input={"i": i},
            queued_at=timezone.now(),
        ).pk
        for i in range(count + 10)
    ]
    timings = []
    for execution_id in ids:
        started = time.perf_counter()
        assert execution_run(execution_id=str(execution_id)) == "succeeded"
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[10:])


if __name__ == "__main__":
    main()
