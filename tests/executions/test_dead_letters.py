"""Dead letters: poison jobs are kept, inspectable by the right people, and replayable."""

import subprocess
from collections.abc import Callable

import pytest
from celery import current_app
from rest_framework.test import APIClient

from executions.maintenance.dead_letters import dead_letter_record
from executions.models import DeadLetter, Execution
from linkflow.accounts.models import Role, User
from linkflow.accounts.services import membership_add, workspace_ensure_personal
from workflows.models import Workflow, WorkflowVersion

from ..conftest import wait_for
from ..executing import chain, create_workflow, execute, wait_status
from ..factories import UserFactory

SET = {"id": "set", "type": "data.set", "params": {"fields": {"ok": True}}}


def _record(workspace_id: object = None, **overrides: object) -> DeadLetter:
    fields: dict = {
        "task_name": "executions.requeue_stale",
        "args": [],
        "kwargs": {},
        "error": "RuntimeError: boom",
        "workspace_id": workspace_id,
    }
    return dead_letter_record(**{**fields, **overrides})


def test_poison_execution_lands_in_dead_letters_and_replays_after_the_data_is_fixed(
    celery_worker: subprocess.Popen[bytes], owner: User, api: APIClient
) -> None:
    # given a workflow whose stored graph is corrupted, so the worker cannot even load it
    workflow_id = create_workflow(api, chain(SET))
    version = WorkflowVersion.objects.get(
        pk=Workflow.objects.get(pk=workflow_id).current_version_id
    )
    good_graph = version.graph
    WorkflowVersion.objects.filter(pk=version.pk).update(graph={"edges": []})

    # when it is executed
    execution_id = execute(api, workflow_id)

    # then the execution fails as an internal error instead of staying "running"
    assert wait_status(execution_id) == "failed"
    execution = Execution.objects.get(pk=execution_id)
    dead_letter = DeadLetter.objects.get(execution_id=execution_id)
    assert execution.error["code"] == "internal_error"
    assert execution.error["dead_letter"] == str(dead_letter.pk)
    assert execution.lease_owner == ""
    assert dead_letter.task_name == "executions.run"
    assert dead_letter.args == [execution_id]
    assert dead_letter.status == "pending"
    assert dead_letter.workspace_id == execution.workspace_id
    assert dead_letter.attempts == 1
    assert dead_letter.error == "KeyError: 'nodes'"
    assert "Graph.from_dict" in dead_letter.traceback or "from_dict" in dead_letter.traceback

    listed = api.get("/api/v1/dead-letters/").json()["results"]
    assert [row["id"] for row in listed] == [str(dead_letter.pk)]

    # when the data is fixed and the dead letter replayed
    WorkflowVersion.objects.filter(pk=version.pk).update(graph=good_graph)
    response = api.post(f"/api/v1/dead-letters/{dead_letter.pk}/replay")

    # then the same execution runs to success and the dead letter is resolved
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "replayed"
    wait_for(
        lambda: Execution.objects.filter(pk=execution_id, status="succeeded").exists(),
        what="the replayed execution to succeed",
    )
    execution.refresh_from_db()
    assert execution.error is None
    assert list(execution.node_runs.values_list("node_id", "status")) == [
        ("start", "succeeded"),
        ("set", "succeeded"),
    ]
    dead_letter.refresh_from_db()
    assert dead_letter.status == "replayed"
    assert dead_letter.resolved_at is not None


def test_a_message_naming_an_unknown_task_becomes_a_platform_dead_letter(
    celery_worker: subprocess.Popen[bytes],
) -> None:
    current_app.send_task("executions.no_such_task", args=[1, "two"], kwargs={"three": 3})

    dead_letter = wait_for(
        lambda: DeadLetter.objects.filter(task_name="executions.no_such_task").first(),
        what="the unknown task's dead letter",
    )
    assert (dead_letter.args, dead_letter.kwargs) == ([1, "two"], {"three": 3})
    assert (dead_letter.workspace_id, dead_letter.execution_id) == (None, None)
    assert dead_letter.status == "pending"


def test_same_job_failing_again_updates_its_pending_dead_letter(db: None) -> None:
    first = _record(args=["x"], error="RuntimeError: one")
    again = _record(args=["x"], error="RuntimeError: two")
    other = _record(args=["y"])

    assert again.pk == first.pk
    assert again.attempts == 2
    assert again.error == "RuntimeError: two"
    assert again.first_failed_at == first.first_failed_at
    assert other.pk != first.pk
    assert DeadLetter.objects.count() == 2


def test_replayed_job_failing_again_reopens_its_dead_letter(db: None) -> None:
    first = _record(args=["x"])
    DeadLetter.objects.filter(pk=first.pk).update(status="replayed")

    again = _record(args=["x"])

    assert again.pk == first.pk
    assert (again.status, again.attempts, again.resolved_at) == ("pending", 2, None)


def test_owner_and_admin_see_their_workspace_dead_letters_others_get_404(
    owner: User, teammate: User, outsider: User, client_for: Callable[[User], APIClient]
) -> None:
    workspace = workspace_ensure_personal(user=owner)
    admin = UserFactory.create()
    membership_add(workspace=workspace, user=admin, role=Role.ADMIN)
    dead_letter = _record(workspace_id=workspace.pk)
    url = f"/api/v1/dead-letters/{dead_letter.pk}/"

    assert client_for(owner).get(url).status_code == 200
    assert client_for(admin).get(url).json()["id"] == str(dead_letter.pk)
    for user in (teammate, outsider):  # an editor is not an operator of the workspace
        client = client_for(user)
        assert client.get(url).status_code == 404
        assert client.get("/api/v1/dead-letters/").json()["results"] == []
        response = client.post(f"{url}replay")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert client.post(f"{url}discard").status_code == 404
    dead_letter.refresh_from_db()
    assert dead_letter.status == "pending"


def test_platform_dead_letters_are_visible_to_staff_only(
    owner: User, client_for: Callable[[User], APIClient]
) -> None:
    platform = _record(workspace_id=None)
    staff = UserFactory.create()
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    staff.refresh_from_db()

    staff_rows = client_for(staff).get("/api/v1/dead-letters/").json()["results"]
    owner_response = client_for(owner).get(f"/api/v1/dead-letters/{platform.pk}/")

    assert [row["id"] for row in staff_rows] == [str(platform.pk)]
    assert staff_rows[0]["workspace"] is None
    assert owner_response.status_code == 404
    assert client_for(owner).get("/api/v1/dead-letters/").json()["results"] == []


def test_discard_resolves_once_and_a_second_action_conflicts(owner: User, api: APIClient) -> None:
    dead_letter = _record(workspace_id=workspace_ensure_personal(user=owner).pk)

    discarded = api.post(f"/api/v1/dead-letters/{dead_letter.pk}/discard")
    replay = api.post(f"/api/v1/dead-letters/{dead_letter.pk}/replay")

    assert discarded.status_code == 200
    assert discarded.json()["status"] == "discarded"
    assert replay.status_code == 409
    assert replay.json()["error"] == {
        "code": "conflict",
        "message": "Only a pending dead letter can be replayed.",
        "details": {"status": "discarded"},
    }
    dead_letter.refresh_from_db()
    assert dead_letter.status == "discarded"


@pytest.mark.parametrize("query", ["?status=nope"])
def test_bad_status_filter_is_a_400_naming_the_field(api: APIClient, query: str) -> None:
    response = api.get(f"/api/v1/dead-letters/{query}")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["status"]
