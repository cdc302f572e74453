"""A parked execution wakes when its resume time comes, and not before: the beat's sweep,
the stale re-send and a stray message all leave a wait that is not yet due parked."""

from datetime import timedelta

import pytest
from django.utils import timezone

from executions.maintenance.recovery import executions_requeue_stale, executions_resume_due
from executions.models import Execution, NodeRun
from executions.services import execution_run

from ..executing import chain, create_workflow, execute

pytestmark = pytest.mark.django_db

HOUR_WAIT = chain(
    {"id": "pause", "type": "flow.wait", "params": {"seconds": 3600}},
    {"id": "after", "type": "flow.noop"},
)


def parked(api) -> Execution:  # type: ignore[no-untyped-def]
    """An execution run in this process up to its hour-long wait."""
    execution_id = execute(api, create_workflow(api, HOUR_WAIT))
    assert execution_run(execution_id=execution_id) == "waiting"
    return Execution.objects.get(pk=execution_id)


def come_due(execution: Execution) -> None:
    """Move the wait's time into the past, as if the hour had gone by."""
    past = timezone.now() - timedelta(seconds=1)
    Execution.objects.filter(pk=execution.pk).update(resume_at=past)
    NodeRun.objects.filter(execution=execution, node_id="pause").update(resume_at=past)


def test_the_sweep_wakes_the_due_wait_and_leaves_the_early_one_parked(api):
    early, due = parked(api), parked(api)
    come_due(due)

    assert executions_resume_due() == 1

    early.refresh_from_db()
    due.refresh_from_db()
    assert early.status == "waiting"
    assert early.resume_at > timezone.now() + timedelta(minutes=59)
    assert due.status in ("pending", "queued")
    assert due.resume_at is None
    assert executions_resume_due() == 0  # each wait wakes once


def test_a_stray_message_or_the_stale_sweep_does_not_run_a_wait_before_its_time(api):
    early = parked(api)
    resume_at = early.resume_at

    assert executions_requeue_stale() == 0
    assert execution_run(execution_id=str(early.pk)) is None  # a duplicate message

    early.refresh_from_db()
    assert (early.status, early.resume_at) == ("waiting", resume_at)
    assert not NodeRun.objects.filter(execution=early, node_id="after").exists()


def test_a_woken_wait_runs_on_past_its_wait_to_the_end(api):
    due = parked(api)
    come_due(due)
    executions_resume_due()

    assert execution_run(execution_id=str(due.pk)) == "succeeded"

    assert NodeRun.objects.get(execution=due, node_id="after").status == "succeeded"
