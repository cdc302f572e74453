"""An execution whose worker keeps being lost is failed, not handed on for ever."""

from datetime import timedelta

import pytest
from django.utils import timezone

from executions.models import Execution
from executions.running.lease import lease_claim

from ..executing import personal_workflow, recorded_execution


def stale_running(owner, *, lost_leases: int) -> Execution:
    execution = recorded_execution(personal_workflow(owner, "w"), status="running")
    Execution.objects.filter(pk=execution.pk).update(
        lease_owner="dead-host:1:gone",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        lost_leases=lost_leases,
    )
    return execution


@pytest.mark.django_db
def test_taking_over_an_expired_lease_counts_one_lost_lease(owner, settings):
    settings.LINKFLOW_MAX_LOST_LEASES = 3
    execution = stale_running(owner, lost_leases=2)

    lease = lease_claim(execution_id=str(execution.pk))

    assert lease is not None and not lease.fresh
    execution.refresh_from_db()
    assert (execution.status, execution.lease_owner, execution.lost_leases) == (
        "running",
        lease.owner,
        3,
    )


@pytest.mark.django_db
def test_past_the_lost_lease_limit_the_execution_fails_instead_of_running_again(owner, settings):
    settings.LINKFLOW_MAX_LOST_LEASES = 3
    execution = stale_running(owner, lost_leases=3)

    lease = lease_claim(execution_id=str(execution.pk))

    assert lease is None
    execution.refresh_from_db()
    assert execution.status == "failed"
    assert execution.error["code"] == "worker_lost"
    assert "lost 4 times" in execution.error["message"]
    assert (execution.lease_owner, execution.lease_expires_at) == ("", None)
    assert execution.finished_at is not None


@pytest.mark.django_db
def test_a_live_lease_is_neither_taken_over_nor_counted(owner, settings):
    settings.LINKFLOW_MAX_LOST_LEASES = 0
    execution = stale_running(owner, lost_leases=0)
    alive = timezone.now() + timedelta(minutes=1)
    Execution.objects.filter(pk=execution.pk).update(lease_expires_at=alive)

    assert lease_claim(execution_id=str(execution.pk)) is None
    execution.refresh_from_db()
    assert (execution.status, execution.lease_owner, execution.lost_leases) == (
        "running",
        "dead-host:1:gone",
        0,
    )
