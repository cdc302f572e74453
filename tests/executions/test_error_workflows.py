"""Error workflows and flow.stop with a real worker (beat inside) on Redis and PostgreSQL."""

import contextlib

from executions.models import Execution
from workflows.models import Workflow

from ..conftest import wait_for
from ..executing import chain, create_workflow, execute, wait_status

ERROR_GRAPH = {
    "nodes": [
        {"id": "on_error", "type": "trigger.error"},
        {"id": "note", "type": "data.set", "params": {"fields": {"seen": "{{ json.node }}"}}},
    ],
    "edges": [{"source": "on_error", "target": "note"}],
}


def _stopping(message: str = "Order {{ json.id }} refused") -> dict:
    return chain({"id": "stop", "type": "flow.stop", "params": {"message": message}})


def _set_error_workflow(api, workflow_id: str, target: str | None):
    return api.patch(
        f"/api/v1/workflows/{workflow_id}/",
        {"settings": {"error_workflow": target}},
        format="json",
    )


def _error_executions(workflow_id: str) -> list[Execution]:
    return list(Execution.objects.filter(workflow_id=workflow_id, mode="error"))


def test_a_failed_execution_runs_the_error_workflow_once_with_the_failure(celery_worker, api):
    handler = create_workflow(api, ERROR_GRAPH, name="handler")
    failing = create_workflow(api, _stopping(), name="failing")
    assert _set_error_workflow(api, failing, handler).status_code == 200

    failed = execute(api, failing, {"id": 7})
    assert wait_status(failed) == "failed"
    error_run = wait_for(lambda: _error_executions(handler), what="the error execution")[0]
    assert wait_status(str(error_run.pk)) == "succeeded"

    item = Execution.objects.get(pk=error_run.pk).trigger_input
    assert item["execution"] == failed
    assert item["workflow"] == {"id": failing, "name": "failing"}
    assert item["node"] == "stop"
    assert item["error"]["message"] == "Order 7 refused"
    assert item["error"]["code"] == "flow_stopped"
    assert item["url"].endswith(f"/executions/{failed}/")
    assert error_run.dedupe_key == f"error:{failed}"
    assert len(_error_executions(handler)) == 1


def test_an_error_workflow_that_fails_does_not_hand_off_again_even_a_to_b(celery_worker, api):
    # A's error workflow is B and B's is A, and both fail: one hand-off, A -> B, then stop.
    # A can also be started as an error workflow, so a hand-off of B's failure would run.
    a_graph = _stopping("a failed")
    a_graph["nodes"].append({"id": "on_error", "type": "trigger.error"})
    a_graph["edges"].append({"source": "on_error", "target": "stop"})
    a = create_workflow(api, a_graph, name="a")
    b_graph = {
        "nodes": [
            {"id": "on_error", "type": "trigger.error"},
            {"id": "stop", "type": "flow.stop", "params": {"message": "b failed too"}},
        ],
        "edges": [{"source": "on_error", "target": "stop"}],
    }
    b = create_workflow(api, b_graph, name="b")
    assert _set_error_workflow(api, a, b).status_code == 200
    assert _set_error_workflow(api, b, a).status_code == 200

    failed = execute(api, a)
    assert wait_status(failed) == "failed"
    b_run = wait_for(lambda: _error_executions(b), what="b's error execution")[0]
    assert wait_status(str(b_run.pk)) == "failed"
    # What a hand-off of b's failure would have created, had it been made.
    wait_for(
        lambda: (
            Execution.objects.filter(workflow_id=a).count() == 1
            and not Execution.objects.filter(status__in=("pending", "queued", "running")).exists()
        ),
        what="everything to settle",
    )
    assert Execution.objects.filter(workflow_id=a).count() == 1
    assert len(_error_executions(b)) == 1
    assert not _error_executions(a)


def test_a_succeeded_execution_hands_nothing_off(celery_worker, api):
    handler = create_workflow(api, ERROR_GRAPH, name="handler")
    fine = create_workflow(api, chain({"id": "noop", "type": "flow.noop"}), name="fine")
    _set_error_workflow(api, fine, handler)
    assert wait_status(execute(api, fine)) == "succeeded"
    assert not Execution.objects.filter(workflow_id=handler).exists()


def test_the_error_workflow_must_be_of_the_same_workspace(api, client_for, outsider, owner):
    mine = create_workflow(api, _stopping(), name="mine")
    theirs = create_workflow(client_for(outsider), ERROR_GRAPH, name="theirs")

    for target in (theirs, "00000000-0000-0000-0000-000000000000"):
        response = _set_error_workflow(api, mine, target)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert "error_workflow" in error["details"]["settings"]
    assert Workflow.objects.get(pk=mine).error_workflow_id is None


def test_the_error_workflow_setting_is_shown_and_can_be_cleared(api):
    handler = create_workflow(api, ERROR_GRAPH, name="handler")
    wf = create_workflow(api, _stopping(), name="wf")
    assert _set_error_workflow(api, wf, handler).json()["settings"]["error_workflow"] == handler
    assert _set_error_workflow(api, wf, None).json()["settings"]["error_workflow"] is None
    assert Workflow.objects.get(pk=wf).error_workflow_id is None


def test_a_crash_before_the_failure_commits_loses_and_doubles_no_hand_off(
    transactional_db, api, monkeypatch
):
    """The worker dies after the error execution was inserted but before the failure's
    transaction commits (simulated by raising there): both roll back together. The
    execution is then resumed (its lease expired) and fails again, handing off once; a
    repeated hand-off of the same failure returns that same error execution."""
    from datetime import timedelta

    from django.utils import timezone

    from executions.running import recorder
    from executions.services import execution_run
    from executions.starting.error_workflows import error_handoff

    handler = create_workflow(api, ERROR_GRAPH, name="handler")
    failing = create_workflow(api, _stopping(), name="failing")
    _set_error_workflow(api, failing, handler)
    failed = execute(api, failing, {"id": 1})

    def crash_after_hand_off(**kwargs):
        error_handoff(**kwargs)
        raise SystemExit("worker killed before the commit")

    monkeypatch.setattr(recorder, "error_handoff", crash_after_hand_off)
    with contextlib.suppress(SystemExit):
        execution_run(execution_id=failed)
    assert Execution.objects.get(pk=failed).status == "running"  # the failure rolled back
    assert not Execution.objects.filter(workflow_id=handler).exists()  # and its hand-off

    monkeypatch.setattr(recorder, "error_handoff", error_handoff)
    Execution.objects.filter(pk=failed).update(lease_expires_at=timezone.now() - timedelta(1))
    assert execution_run(execution_id=failed) == "failed"
    handed = Execution.objects.get(workflow_id=handler)
    assert handed.dedupe_key == f"error:{failed}"
    again = error_handoff(execution=Execution.objects.get(pk=failed), error={"message": "x"})
    assert again is not None and again.pk == handed.pk
    assert Execution.objects.filter(workflow_id=handler).count() == 1
