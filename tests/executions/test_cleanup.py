"""Retention cleanup: old finished executions go with their stored objects; the rest stays."""

import contextlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.test import APIClient

from executions.maintenance.cleanup import executions_cleanup, retention_days_for
from executions.models import Execution, NodeRun
from executions.running.files import StorageFileStore
from linkflow.accounts.models import User
from workflows.models import Workflow, WorkflowVersion

from ..executing import backdated_execution, chain, create_workflow

SET = {"id": "set", "type": "data.set", "params": {"fields": {"ok": True}}}
BIG = [{"text": "x" * 200}]


@pytest.fixture(autouse=True)
def _small_payloads(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path)
    settings.LINKFLOW_PAYLOAD_INLINE_MAX_BYTES = 50


def _execution(workflow: Workflow, *, age_days: float, status: str = "succeeded") -> Execution:
    """An execution created ``age_days`` ago with one NodeRun whose output is in storage and
    one stored file."""
    created = timezone.now() - timedelta(days=age_days)
    execution = backdated_execution(workflow, created_at=created, output=BIG, status=status)
    assert "$ref" in execution.node_runs.get().output
    StorageFileStore(execution_id=str(execution.pk)).save(
        name="a.txt", content=b"hello", content_type="text/plain"
    )
    return execution


def _stored(execution: Execution) -> list[str]:
    names = []
    for prefix in ("payloads", "files"):
        with contextlib.suppress(FileNotFoundError):  # nothing stored (any more)
            names += default_storage.listdir(f"{prefix}/{execution.pk}")[1]
    return names


def _workflow(client: APIClient) -> Workflow:
    return Workflow.objects.get(pk=create_workflow(client, chain(SET)))


def test_cleanup_deletes_old_executions_of_a_workspace_with_their_stored_objects(
    owner: User, outsider: User, client_for: Callable[[User], APIClient]
) -> None:
    # given executions either side of the retention in one workspace, and old ones elsewhere
    mine, theirs = _workflow(client_for(owner)), _workflow(client_for(outsider))
    days = retention_days_for(mine.workspace_id)
    assert days is not None and days == retention_days_for(theirs.workspace_id)
    old = [_execution(mine, age_days=days + 1), _execution(mine, age_days=days + 40)]
    young = _execution(mine, age_days=days - 1)
    running = _execution(mine, age_days=days + 5, status="running")
    waiting = _execution(mine, age_days=days + 5, status="waiting")
    now = timezone.now()
    other_workspace_young = _execution(theirs, age_days=days - 0.5)
    assert all(len(_stored(execution)) == 2 for execution in old)

    # when the cleanup runs, in batches of one
    deleted = executions_cleanup(now=now, batch=1)

    # then exactly the old finished ones are gone, with their NodeRuns and stored objects
    assert deleted == 2
    assert not Execution.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert not NodeRun.objects.filter(execution_id__in=[e.pk for e in old]).exists()
    assert all(_stored(execution) == [] for execution in old)
    kept = [young, running, waiting, other_workspace_young]
    assert Execution.objects.filter(pk__in=[e.pk for e in kept]).count() == 4
    assert all(len(_stored(execution)) == 2 for execution in kept)
    assert NodeRun.objects.filter(execution_id__in=[e.pk for e in kept]).count() == 4


def test_cleanup_follows_each_workspaces_own_retention(
    owner: User, outsider: User, client_for: Callable[[User], APIClient]
) -> None:
    mine, theirs = _workflow(client_for(owner)), _workflow(client_for(outsider))
    days = retention_days_for(mine.workspace_id)
    expired_mine = _execution(mine, age_days=days + 2)
    # older than the first workspace's retention, but the second one keeps everything
    kept_theirs = _execution(theirs, age_days=days + 2)
    import executions.maintenance.cleanup as cleanup

    original = cleanup.retention_days_for
    try:
        cleanup.retention_days_for = lambda ws: None if ws == theirs.workspace_id else days  # type: ignore[assignment]
        deleted = executions_cleanup()
    finally:
        cleanup.retention_days_for = original

    assert deleted == 1
    assert not Execution.objects.filter(pk=expired_mine.pk).exists()
    assert Execution.objects.filter(pk=kept_theirs.pk).exists()
    assert len(_stored(kept_theirs)) == 2


def test_cleanup_takes_sub_workflow_children_and_their_storage_along(
    owner: User, client_for: Callable[[User], APIClient]
) -> None:
    workflow = _workflow(client_for(owner))
    days = retention_days_for(workflow.workspace_id)
    parent = _execution(workflow, age_days=days + 3)
    child = _execution(workflow, age_days=days - 1)
    Execution.objects.filter(pk=child.pk).update(parent=parent, depth=1)

    assert executions_cleanup() == 2  # the child counts: it went too

    assert not Execution.objects.filter(pk__in=[parent.pk, child.pk]).exists()
    assert _stored(child) == []


def test_cleanup_keeps_a_finished_parent_whose_child_still_runs(
    owner: User, client_for: Callable[[User], APIClient]
) -> None:
    workflow = _workflow(client_for(owner))
    days = retention_days_for(workflow.workspace_id)
    parent = _execution(workflow, age_days=days + 3)
    child = _execution(workflow, age_days=days + 3, status="running")
    Execution.objects.filter(pk=child.pk).update(parent=parent, depth=1)

    assert executions_cleanup() == 0

    assert Execution.objects.filter(pk__in=[parent.pk, child.pk]).count() == 2


def test_cleanup_removes_the_hidden_snapshots_of_test_runs_it_deleted_and_keeps_the_rest(
    owner: User, client_for: Callable[[User], APIClient]
) -> None:
    workflow = _workflow(client_for(owner))
    days = retention_days_for(workflow.workspace_id)
    assert days is not None
    old_snapshot, young_snapshot, fresh_unused = (
        WorkflowVersion.objects.create(workflow=workflow, number=0, graph=chain(SET), test=True)
        for _ in range(3)
    )
    long_ago = timezone.now() - timedelta(days=days + 2)
    WorkflowVersion.objects.filter(pk__in=[old_snapshot.pk, young_snapshot.pk]).update(
        created_at=long_ago
    )
    for snapshot, age in ((old_snapshot, days + 1), (young_snapshot, days - 1)):
        run = _execution(workflow, age_days=age)
        Execution.objects.filter(pk=run.pk).update(version=snapshot, mode="test")

    executions_cleanup(now=timezone.now())

    left = set(WorkflowVersion.objects.filter(workflow=workflow).values_list("pk", flat=True))
    # the expired run's snapshot went with it; one still run from, and one just made, stay
    assert old_snapshot.pk not in left
    assert {young_snapshot.pk, fresh_unused.pk, workflow.current_version_id} <= left
