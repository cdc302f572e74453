"""Cron triggers: PeriodicTasks follow the workflow, and each cron slot runs exactly once."""

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from executions.models import Execution
from executions.sources.cron_fires import cron_slot, schedule_fire, schedule_fire_due
from executions.tasks import fire_schedule
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import Workflow
from workflows.services import workflow_create, workflow_delete, workflow_update

from ..conftest import require_services


def schedule_graph(*crons: tuple[str, str, str]) -> dict[str, Any]:
    """One schedule trigger per (node id, cron, time zone), each feeding one noop node."""
    nodes: list[dict[str, Any]] = [
        {"id": node_id, "type": "trigger.schedule", "params": {"cron": cron, "timezone": tz}}
        for node_id, cron, tz in crons
    ]
    edges = [{"source": n["id"], "target": "done"} for n in nodes]
    return {"nodes": [*nodes, {"id": "done", "type": "flow.noop"}], "edges": edges}


def create(user: User, graph: dict[str, Any], *, active: bool = False) -> Workflow:
    workspace = workspace_ensure_personal(user=user)
    workflow = workflow_create(user=user, workspace=workspace, name="nightly", graph=graph)
    if active:
        workflow = workflow_update(user=user, workflow=workflow, changes={"active": True})
    return workflow


def tasks_of(workflow: Workflow) -> dict[str, PeriodicTask]:
    rows = PeriodicTask.objects.filter(name__startswith=f"linkflow-cron:{workflow.pk}:")
    return {json.loads(t.kwargs)["node_id"]: t for t in rows.select_related("crontab")}


def crontab_of(task: PeriodicTask) -> tuple[str, str, str, str, str, str]:
    c = task.crontab
    return (c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week, str(c.timezone))


# --- PeriodicTasks follow the workflow ----------------------------------------------------


@pytest.mark.django_db
def test_an_inactive_workflow_has_no_periodic_task(owner):
    workflow = create(owner, schedule_graph(("tick", "*/15 * * * *", "UTC")))

    assert tasks_of(workflow) == {}


@pytest.mark.django_db
def test_activating_creates_one_task_per_schedule_node_in_its_time_zone(owner):
    graph = schedule_graph(
        ("morning", "30 8 * * mon-fri", "Europe/Berlin"), ("quarter", "*/15 * * * *", "UTC")
    )

    workflow = create(owner, graph, active=True)

    tasks = tasks_of(workflow)
    assert sorted(tasks) == ["morning", "quarter"]
    morning = tasks["morning"]
    assert morning.name == f"linkflow-cron:{workflow.pk}:morning"
    assert morning.task == "executions.fire_schedule"
    assert morning.enabled is True
    assert json.loads(morning.kwargs) == {
        "workflow_id": str(workflow.pk),
        "node_id": "morning",
        "fired_at": None,
    }
    assert crontab_of(morning) == ("30", "8", "*", "*", "1,2,3,4,5", "Europe/Berlin")
    assert crontab_of(tasks["quarter"]) == ("0,15,30,45", "*", "*", "*", "*", "UTC")


@pytest.mark.django_db
def test_editing_the_cron_updates_the_same_task(owner):
    workflow = create(owner, schedule_graph(("tick", "0 9 * * *", "UTC")), active=True)
    before = tasks_of(workflow)["tick"]
    PeriodicTask.objects.filter(pk=before.pk).update(last_run_at=_utc(1, 1, 9))

    workflow_update(
        user=owner,
        workflow=workflow,
        changes={"graph": schedule_graph(("tick", "0 18 * * *", "America/New_York"))},
    )

    after = tasks_of(workflow)["tick"]
    assert after.pk == before.pk
    assert crontab_of(after) == ("0", "18", "*", "*", "*", "America/New_York")
    assert after.last_run_at is None  # the new cron counts from now, with no catch-up


@pytest.mark.django_db
def test_removing_a_schedule_node_deletes_only_its_task(owner):
    graph = schedule_graph(("a", "0 9 * * *", "UTC"), ("b", "0 10 * * *", "UTC"))
    workflow = create(owner, graph, active=True)
    kept = tasks_of(workflow)["a"].pk

    workflow_update(
        user=owner, workflow=workflow, changes={"graph": schedule_graph(("a", "0 9 * * *", "UTC"))}
    )

    assert {node: t.pk for node, t in tasks_of(workflow).items()} == {"a": kept}


@pytest.mark.django_db
def test_a_disabled_schedule_node_has_no_task(owner):
    graph = schedule_graph(("a", "0 9 * * *", "UTC"))
    graph["nodes"][0]["disabled"] = True

    workflow = create(owner, graph, active=True)

    assert tasks_of(workflow) == {}


@pytest.mark.django_db
def test_deactivating_deletes_the_tasks_and_reactivating_brings_them_back(owner):
    workflow = create(owner, schedule_graph(("tick", "0 9 * * *", "UTC")), active=True)

    workflow = workflow_update(user=owner, workflow=workflow, changes={"active": False})
    assert tasks_of(workflow) == {}

    workflow = workflow_update(user=owner, workflow=workflow, changes={"active": True})
    assert list(tasks_of(workflow)) == ["tick"]


@pytest.mark.django_db
def test_deleting_the_workflow_deletes_its_tasks_and_leaves_others(owner):
    doomed = create(owner, schedule_graph(("tick", "0 9 * * *", "UTC")), active=True)
    other = create(owner, schedule_graph(("tick", "0 9 * * *", "UTC")), active=True)

    workflow_delete(user=owner, workflow=doomed)

    assert tasks_of(doomed) == {}
    assert list(tasks_of(other)) == ["tick"]


@pytest.mark.django_db
def test_activating_and_deleting_through_the_api_manage_the_task(api):
    graph = schedule_graph(("tick", "0 9 * * *", "UTC"))
    created = api.post("/api/v1/workflows/", {"name": "n", "graph": graph}, format="json")
    workflow = Workflow.objects.get(pk=created.json()["id"])
    assert tasks_of(workflow) == {}

    patched = api.patch(f"/api/v1/workflows/{workflow.pk}/", {"active": True}, format="json")
    assert patched.status_code == 200, patched.json()
    assert list(tasks_of(workflow)) == ["tick"]

    deleted = api.delete(f"/api/v1/workflows/{workflow.pk}/")
    assert deleted.status_code == 204
    assert tasks_of(workflow) == {}


@pytest.mark.django_db
def test_a_viewer_cannot_deactivate_and_the_task_stays(owner, viewer, client_for):
    workflow = create(owner, schedule_graph(("tick", "0 9 * * *", "UTC")), active=True)

    response = client_for(viewer).patch(
        f"/api/v1/workflows/{workflow.pk}/", {"active": False}, format="json"
    )

    assert response.status_code == 403
    assert list(tasks_of(workflow)) == ["tick"]
    assert Workflow.objects.get(pk=workflow.pk).active is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cron", "days"),
    [
        ("0 9 1,15 * 5", ("*", "*")),  # cron ORs the two day fields; celery would AND them
        ("0 9 L * *", ("*", "*")),  # last day of the month
        ("0 9 * * 5#3", ("*", "*")),  # third Friday
        ("0 9 15W * *", ("*", "*")),  # weekday nearest the 15th
        ("0 9 1,15 * *", ("1,15", "*")),
        ("0 9 * * 7", ("*", "0")),  # Sunday written as 7
    ],
)
def test_cron_features_celery_lacks_fire_on_a_wider_crontab(owner, cron, days):
    workflow = create(owner, schedule_graph(("tick", cron, "UTC")), active=True)

    crontab = crontab_of(tasks_of(workflow)["tick"])

    assert (crontab[2], crontab[4]) == days
    assert crontab[:2] == ("0", "9")


# --- one execution per slot --------------------------------------------------------------


def test_the_slot_is_the_latest_tick_in_the_node_time_zone_across_dst():
    # Europe/Berlin moved to summer time on 2025-03-30: 09:00 is 08:00Z, then 07:00Z.
    before = cron_slot(cron="0 9 * * *", timezone_name="Europe/Berlin", at=_utc(3, 29, 8, 0, 5))
    after = cron_slot(cron="0 9 * * *", timezone_name="Europe/Berlin", at=_utc(3, 30, 7, 0, 0))
    just_before = cron_slot(
        cron="0 9 * * *", timezone_name="Europe/Berlin", at=_utc(3, 30, 6, 59, 59)
    )

    assert before.isoformat() == "2025-03-29T09:00:00+01:00"
    assert after.isoformat() == "2025-03-30T09:00:00+02:00"
    assert just_before.isoformat() == "2025-03-29T09:00:00+01:00"


@pytest.mark.django_db
def test_firing_the_same_slot_twice_makes_one_execution(owner):
    workflow = create(owner, schedule_graph(("tick", "0 9 * * *", "Europe/Berlin")), active=True)
    slot = datetime(2025, 3, 30, 7, 0, tzinfo=UTC)

    first = schedule_fire(workflow_id=workflow.pk, node_id="tick", slot=slot)
    second = schedule_fire(workflow_id=workflow.pk, node_id="tick", slot=slot)

    assert first is not None and second is not None
    assert second.pk == first.pk
    assert Execution.objects.filter(workflow=workflow).count() == 1
    assert first.mode == "schedule"
    assert first.status == "queued"
    assert first.trigger_node_id == "tick"
    assert first.trigger_input == {
        "scheduled_at": "2025-03-30T09:00:00+02:00",
        "timezone": "Europe/Berlin",
    }
    assert first.dedupe_key == "cron:tick:2025-03-30T07:00:00+00:00"
    assert first.version_id == workflow.current_version_id


@pytest.mark.django_db
def test_sends_within_one_slot_map_to_it_and_the_next_tick_is_a_new_execution(owner):
    workflow = create(owner, schedule_graph(("tick", "*/5 * * * *", "UTC")), active=True)

    # the leader on time, a second beat, and a new leader catching up after a failover
    on_time = schedule_fire_due(workflow_id=workflow.pk, node_id="tick", fired_at=_utc(1, 1, 9))
    seconds_late = _utc(1, 1, 9, 0, 0) + timedelta(seconds=1.5)
    copy = schedule_fire_due(workflow_id=workflow.pk, node_id="tick", fired_at=seconds_late)
    catch_up = schedule_fire_due(
        workflow_id=workflow.pk, node_id="tick", fired_at=_utc(1, 1, 9, 0, 20)
    )
    next_tick = schedule_fire_due(
        workflow_id=workflow.pk, node_id="tick", fired_at=_utc(1, 1, 9, 5, 0)
    )

    assert on_time is not None and next_tick is not None
    assert {copy.pk, catch_up.pk} == {on_time.pk}
    assert next_tick.pk != on_time.pk
    assert sorted(Execution.objects.values_list("dedupe_key", flat=True)) == [
        "cron:tick:2025-01-01T09:00:00+00:00",
        "cron:tick:2025-01-01T09:05:00+00:00",
    ]


@pytest.mark.django_db
def test_a_fire_long_after_its_slot_is_skipped(owner, settings):
    settings.LINKFLOW_SCHEDULE_GRACE_SECONDS = 120
    workflow = create(owner, schedule_graph(("tick", "0 9 * * *", "UTC")), active=True)

    late = schedule_fire_due(workflow_id=workflow.pk, node_id="tick", fired_at=_utc(1, 1, 9, 2, 1))

    assert late is None
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_fire_for_an_inactive_workflow_or_a_removed_node_creates_nothing(owner):
    inactive = create(owner, schedule_graph(("tick", "0 9 * * *", "UTC")))
    active = create(owner, schedule_graph(("tick", "0 9 * * *", "UTC")), active=True)
    slot = datetime(2025, 1, 1, 9, tzinfo=UTC)

    assert schedule_fire(workflow_id=inactive.pk, node_id="tick", slot=slot) is None
    assert schedule_fire(workflow_id=active.pk, node_id="gone", slot=slot) is None
    assert schedule_fire(workflow_id=active.pk, node_id="done", slot=slot) is None  # not a trigger
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_the_beat_task_fires_the_slot_of_its_send_time(owner):
    workflow = create(owner, schedule_graph(("tick", "0 9 * * *", "UTC")), active=True)

    execution_id = fire_schedule(str(workflow.pk), "tick", "2025-01-01T09:00:00.250000+00:00")

    execution = Execution.objects.get(pk=execution_id)
    assert execution.dedupe_key == "cron:tick:2025-01-01T09:00:00+00:00"
    assert execution.trigger_input == {
        "scheduled_at": "2025-01-01T09:00:00+00:00",
        "timezone": "UTC",
    }


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_sending_every_slot_make_exactly_one_execution_per_slot(owner):
    require_services()  # real PostgreSQL: concurrent inserts meet at the unique index
    workflow = create(owner, schedule_graph(("tick", "* * * * *", "UTC")), active=True)
    slots = [_utc(1, 1, 9) + timedelta(minutes=n) for n in range(25)]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def beat(delay: timedelta) -> None:
        try:
            for slot in slots:
                start.wait()  # both send each slot at the same moment
                schedule_fire_due(workflow_id=workflow.pk, node_id="tick", fired_at=slot + delay)
        except BaseException as error:  # reported by the main thread
            failures.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=beat, args=(timedelta(milliseconds=5),)),
        threading.Thread(target=beat, args=(timedelta(seconds=2),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    keys = list(Execution.objects.filter(workflow=workflow).values_list("dedupe_key", flat=True))
    assert sorted(keys) == [f"cron:tick:{slot.isoformat()}" for slot in slots]


def _utc(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=UTC)
