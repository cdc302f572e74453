"""Admission and dispatch (docs/admission.md): past a workspace's window executions wait
pending, they are not refused; one workspace's flood delays another's execution by at most
one window; recovery, cancel and a stopping worker respect the slots."""

import signal
import subprocess
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from executions.maintenance.recovery import executions_requeue_stale
from executions.models import Execution, NodeRun
from executions.operations import execution_cancel
from executions.sources.cron_fires import schedule_fire
from executions.starting.dispatch import DISPATCHED_STATUSES, dispatch_sweep
from workflows.models import Workflow

from ..billing import on_plan
from ..conftest import require_services, signed_in_client, wait_for
from ..executing import FINISHED, chain, create_workflow, execute
from ..http_server import orders_server

NOOP = {"id": "n1", "type": "data.set", "params": {"fields": {"a": 1}}}

# Plan limits are what admission reads: these tests run with billing on (the shipped
# default is off), and so does the worker they start.
pytestmark = pytest.mark.usefixtures("billing_on")


def _started_between(workspace_id: object, after: object, before: object) -> int:
    rows = Execution.objects.filter(workspace_id=workspace_id, started_at__gt=after)
    return rows.filter(started_at__lt=before).count()


def test_a_flood_of_one_workspace_delays_another_by_at_most_one_window(
    start_worker, api, client_for, outsider
):
    window = settings.LINKFLOW_DISPATCH_WINDOW
    quiet_api = client_for(outsider)
    noisy_workflow = create_workflow(api, chain(NOOP))
    quiet_workflow = create_workflow(quiet_api, chain(NOOP), name="quiet")
    noisy = [execute(api, noisy_workflow) for _ in range(60)]
    quiet_id = execute(quiet_api, quiet_workflow)
    # Only now a worker: the worst case, every noisy execution was asked for first.
    start_worker(concurrency=1)

    wait_for(
        lambda: (
            Execution.objects.filter(pk__in=[*noisy, quiet_id], status="succeeded").count() == 61
        ),
        timeout=120,
        what="every execution to succeed",
    )
    quiet = Execution.objects.get(pk=quiet_id)
    noisy_workspace = Execution.objects.get(pk=noisy[0]).workspace_id
    ahead = _started_between(noisy_workspace, quiet.queued_at, quiet.started_at)
    assert ahead <= window
    # Within a workspace the order is kept: its executions started in the order asked.
    starts = list(Execution.objects.filter(pk__in=noisy).order_by("queued_at"))
    assert [e.started_at for e in starts] == sorted(e.started_at for e in starts)


def test_ten_executes_past_the_plans_concurrency_all_answer_202_and_all_succeed(
    start_worker, api, owner
):
    on_plan(owner, concurrent_executions=2)
    workflow_id = create_workflow(api, chain(NOOP))
    answers = [
        api.post(f"/api/v1/workflows/{workflow_id}/execute", {"input": {}}, format="json")
        for _ in range(10)
    ]

    assert [answer.status_code for answer in answers] == [202] * 10
    assert [answer.json()["status"] for answer in answers] == ["queued"] * 2 + ["pending"] * 8
    start_worker(concurrency=4, LINKFLOW_BILLING="on")
    ids = [answer.json()["id"] for answer in answers]
    wait_for(
        lambda: Execution.objects.filter(pk__in=ids, status="succeeded").count() == 10,
        timeout=60,
        what="all ten to succeed",
    )
    # Never more than two ran at once: each started only after all but one earlier had ended.
    runs = list(Execution.objects.filter(pk__in=ids).order_by("started_at"))
    for index, run in enumerate(runs[2:], start=2):
        ended_before = sum(1 for other in runs[:index] if other.finished_at <= run.started_at)
        assert ended_before >= index - 1


def test_a_pending_execution_cancels_without_running_and_frees_no_slot(api, owner):
    on_plan(owner, concurrent_executions=1)
    workflow_id = create_workflow(api, chain(NOOP))
    first, second, third = (execute(api, workflow_id) for _ in range(3))

    execution_cancel(user=owner, execution=Execution.objects.get(pk=second))

    statuses = dict(Execution.objects.values_list("pk", "status"))
    assert {str(k): v for k, v in statuses.items()} == {
        first: "queued",
        second: "cancelled",
        third: "pending",
    }
    assert Execution.objects.get(pk=second).started_at is None
    # Cancelling the queued one frees its slot: the next pending one is dispatched.
    execution_cancel(user=owner, execution=Execution.objects.get(pk=first))
    assert Execution.objects.get(pk=third).status == "queued"
    assert Execution.objects.get(pk=third).dispatched_at is not None


def test_recovery_resends_dispatched_executions_and_never_pending_ones(api, owner, settings):
    require_services()  # sends real messages
    settings.LINKFLOW_QUEUED_GRACE_SECONDS = 0
    on_plan(owner, concurrent_executions=1)
    workflow_id = create_workflow(api, chain(NOOP))
    dispatched, pending = execute(api, workflow_id), execute(api, workflow_id)
    Execution.objects.filter(pk=dispatched).update(
        dispatched_at=timezone.now() - timedelta(seconds=1)
    )

    assert executions_requeue_stale() == 1
    assert Execution.objects.get(pk=pending).status == "pending"
    # The sweep promotes nothing while the slot is held.
    assert dispatch_sweep() == 0


def test_a_cron_fire_past_the_monthly_quota_is_kept_on_the_workflow_and_in_usage(api, owner):
    workspace = on_plan(owner, executions_per_month=0)
    graph = {
        "nodes": [
            {"id": "cron", "type": "trigger.schedule", "params": {"cron": "* * * * *"}},
            NOOP,
        ],
        "edges": [{"source": "cron", "target": "n1"}],
    }
    workflow_id = create_workflow(api, graph)
    Workflow.objects.filter(pk=workflow_id).update(active=True)
    slot = timezone.now().replace(second=0, microsecond=0)

    assert schedule_fire(workflow_id=workflow_id, node_id="cron", slot=slot) is None

    assert not Execution.objects.exists()
    refusal = api.get(f"/api/v1/workflows/{workflow_id}/").json()["last_refusal"]
    assert refusal["code"] == "plan_limit_exceeded"
    assert refusal["node_id"] == "cron"
    assert refusal["details"] == {"limit": "executions_per_month", "allowed": 0, "current": 0}
    usage = api.get(f"/api/v1/workspaces/{workspace.pk}/usage/").json()
    assert [(fire["workflow"], fire["code"]) for fire in usage["refused_fires"]] == [
        (workflow_id, "plan_limit_exceeded")
    ]


def _slow_chain(base: str, nodes: int) -> dict:
    return chain(
        *(
            {
                "id": f"s{i}",
                "type": "http.request",
                "params": {"url": f"{base}/slow?seconds=1&n={i}"},
            }
            for i in range(nodes)
        )
    )


def _stop_like_a_process_manager(proc: subprocess.Popen[bytes], *, grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds, as systemd or Kubernetes do."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        proc.wait()


# prefork is the Procfile's pool (its children hear of the stop by signal); threads is
# the embedded worker's.
@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_a_worker_stopped_mid_run_hands_its_executions_back_and_nothing_runs_twice(
    start_worker, api, pool
):
    nodes = 6
    executions = 4
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        workflow_id = create_workflow(api, _slow_chain(base, nodes))
        first = start_worker(concurrency=2, beat=False, pool=pool)
        ids = [execute(api, workflow_id) for _ in range(executions)]
        wait_for(lambda: len(server.hits) >= 3, what="two executions mid-run")

        # Each execution takes ~6 s, more than the 3 s the process manager waits.
        # Before the hand-back, warm shutdown waited for them and the SIGKILL left them
        # running under leases that only expire later.
        _stop_like_a_process_manager(first, grace=3)
        assert not Execution.objects.filter(pk__in=ids, status="running").exists()
        assert not Execution.objects.filter(pk__in=ids).exclude(lease_owner="").exists()

        start_worker(concurrency=2, beat=False)
        wait_for(
            lambda: Execution.objects.filter(pk__in=ids, status__in=FINISHED).count() == executions,
            timeout=90,
            what="every execution to finish",
        )
        hits = list(server.hits)

    assert set(Execution.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        "succeeded"
    }
    per_node = (
        NodeRun.objects.filter(execution_id__in=ids)
        .exclude(node_id="start")
        .values("execution_id", "node_id")
        .annotate(n=Count("id"))
    )
    assert {row["n"] for row in per_node} == {1}
    assert len(per_node) == executions * nodes
    # Every outside call was made exactly once: the handed-back runs resumed, not restarted.
    assert len(hits) == executions * nodes
    assert not Execution.objects.filter(status__in=DISPATCHED_STATUSES).exists()


def test_the_list_and_run_pages_show_a_pending_execution_as_pending(api, owner):
    on_plan(owner, concurrent_executions=1)
    workflow_id = create_workflow(api, chain(NOOP))
    execute(api, workflow_id)
    pending = execute(api, workflow_id)
    browser = signed_in_client(owner)

    listed = browser.get("/executions/?status=pending").content.decode()
    run = browser.get(f"/executions/{pending}/").content.decode()

    assert f'data-execution="{pending}" data-status="pending"' in listed
    assert '<span class="badge badge-pending" data-badge>Pending</span>' in listed
    assert 'class="badge badge-pending" data-status="pending">pending</span>' in run
