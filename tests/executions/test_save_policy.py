"""A workflow's save policy (n8n's): which finished executions it keeps, and whether it keeps
their node data. Set over the workflow API; the cleanup job applies it."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from executions.maintenance.cleanup import UNSAVED_GRACE, executions_cleanup
from executions.models import Execution, NodeRun
from executions.running.payloads import payload_store
from workflows.models import Workflow

from ..executing import chain, create_workflow, recorded_execution

pytestmark = pytest.mark.django_db

KEEP_ALL = {
    "save_succeeded": True,
    "save_failed": True,
    "save_manual": True,
    "save_node_data": True,
    "webhook_error_details": False,
    "error_workflow": None,
}


@pytest.fixture(autouse=True)
def _small_payloads(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path)
    settings.LINKFLOW_PAYLOAD_INLINE_MAX_BYTES = 50


def test_settings_round_trip_through_the_workflow_api_and_default_to_keeping_everything(api):
    plain = api.post("/api/v1/workflows/", {"name": "a", "graph": chain()}, format="json")
    body = {"name": "b", "graph": chain(), "settings": {"save_succeeded": False}}
    created = api.post("/api/v1/workflows/", body, format="json")
    url = f"/api/v1/workflows/{created.json()['id']}/"

    patched = api.patch(url, {"settings": {"save_node_data": False}}, format="json")

    assert plain.json()["settings"] == KEEP_ALL
    assert created.status_code == 201
    assert created.json()["settings"] == {**KEEP_ALL, "save_succeeded": False}
    assert patched.status_code == 200
    assert api.get(url).json()["settings"] == {
        **KEEP_ALL,
        "save_succeeded": False,
        "save_node_data": False,
    }


def test_a_bad_setting_answers_400_naming_the_field_and_changes_nothing(api):
    workflow_id = create_workflow(api, chain())

    response = api.patch(
        f"/api/v1/workflows/{workflow_id}/", {"settings": {"save_failed": "maybe"}}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]["settings"]) == ["save_failed"]
    assert Workflow.objects.get(pk=workflow_id).save_failed is True


def _workflow(api, **policy: bool) -> Workflow:  # type: ignore[no-untyped-def]
    body = {"name": "w", "graph": chain(), "settings": policy}
    return Workflow.objects.get(pk=api.post("/api/v1/workflows/", body, format="json").json()["id"])


def test_cleanup_deletes_the_finished_executions_the_workflow_does_not_keep(api):
    workflow = _workflow(api, save_succeeded=False, save_manual=False)
    keeps_all = _workflow(api)
    ago = int(UNSAVED_GRACE.total_seconds() // 60) + 1
    doomed = [
        recorded_execution(workflow, mode="api", status="succeeded", minutes_ago=ago),
        recorded_execution(workflow, mode="manual", status="failed", minutes_ago=ago),
    ]
    kept = [
        recorded_execution(workflow, mode="api", status="failed", minutes_ago=ago),
        recorded_execution(workflow, mode="webhook", status="cancelled", minutes_ago=ago),
        recorded_execution(workflow, mode="api", status="succeeded"),  # just finished: grace
        recorded_execution(workflow, mode="api", status="running", minutes_ago=ago),
        recorded_execution(keeps_all, mode="manual", status="succeeded", minutes_ago=ago),
    ]

    deleted = executions_cleanup()

    assert deleted == len(doomed)
    assert set(Execution.objects.values_list("pk", flat=True)) == {e.pk for e in kept}


def test_without_node_data_cleanup_strips_inputs_outputs_and_payloads_but_keeps_the_record(api):
    workflow = _workflow(api, save_node_data=False)
    keeps_data = _workflow(api)
    old = timezone.now() - UNSAVED_GRACE - timedelta(minutes=1)
    stripped, untouched = (_with_node_data(w, finished_at=old) for w in (workflow, keeps_data))

    executions_cleanup()
    again = executions_cleanup()

    stripped.refresh_from_db()
    run = NodeRun.objects.get(execution=stripped)
    assert (stripped.status, stripped.trigger_input) == ("failed", {})
    assert (run.status, run.input, run.output, run.error) == ("failed", [], {}, {"message": "x"})
    assert not Path(f"{_media()}/payloads/{stripped.pk}").exists()
    assert NodeRun.objects.get(execution=untouched).output["main"] == [{"secret": "kept"}]
    assert Execution.objects.get(pk=untouched.pk).trigger_input == {"body": "in"}
    assert again == 0  # nothing left to strip


def _media() -> str:
    from django.conf import settings

    return str(settings.MEDIA_ROOT)


def _with_node_data(workflow: Workflow, *, finished_at) -> Execution:  # type: ignore[no-untyped-def]
    execution = Execution.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=workflow.current_version,
        status="failed",
        mode="webhook",
        trigger_input={"body": "in"},
        queued_at=finished_at,
        finished_at=finished_at,
    )
    big = payload_store(execution_id=str(execution.pk), name="big", data=[{"x": "y" * 200}])
    NodeRun.objects.create(
        execution=execution,
        node_id="set",
        node_type="data.set",
        status="failed",
        input=[{"in": 1}, big],
        output={"main": [{"secret": "kept"}]},
        error={"message": "x"},
    )
    return execution
